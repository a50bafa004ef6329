-- How many numbers ended unanswered, by status: the numbers themselves come from the read API's /redial or make redial. Parameter: the campaign SID.
WITH latest AS (
    SELECT *, row_number() OVER (PARTITION BY item ORDER BY sequence DESC) AS newest
    FROM ledger_rows
    WHERE campaign_sid = ?
),
outcomes AS (
    SELECT *
    FROM latest
    WHERE newest = 1 AND kind = 'outcome' AND NOT removed
)
SELECT
    status,
    count_if(dialable) AS numbers,
    count_if(NOT dialable) AS masked_left_out
FROM outcomes
WHERE status IN ('busy', 'no-answer', 'failed')
GROUP BY status
ORDER BY numbers DESC, status

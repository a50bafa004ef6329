-- Connect rate by the hour of the day each final attempt was dialled, in the campaign's zone (LocalTimezone). Parameter: the campaign SID.
WITH latest AS (
    SELECT *, row_number() OVER (PARTITION BY item ORDER BY sequence DESC) AS newest
    FROM ledger_rows
    WHERE campaign_sid = ?
),
attempts AS (
    SELECT *
    FROM latest
    WHERE newest = 1 AND kind = 'attempt' AND NOT removed
)
SELECT
    dialled_hour AS hour,
    count(*) AS attempts,
    count_if(status = 'completed') AS connected,
    round(100 * CAST(count_if(status = 'completed') AS double) / count(*), 1) AS connect_rate_pct
FROM attempts
WHERE status IN ('completed', 'busy', 'no-answer', 'failed', 'canceled')
    AND dialled_hour IS NOT NULL
GROUP BY dialled_hour
ORDER BY hour

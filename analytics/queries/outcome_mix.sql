-- Each number's final outcome: how many numbers ended in each status, and where the ledger heard it (callback, Campaign API sweep, report). Parameter: the campaign SID.
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
    count(*) AS numbers,
    round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 1) AS share_pct,
    count_if(source = 'callback') AS from_callbacks,
    count_if(source = 'api') AS from_sweeps,
    count_if(source = 'report') AS from_report
FROM outcomes
GROUP BY status
ORDER BY numbers DESC, status

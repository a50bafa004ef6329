-- Talk time of the connected calls whose callback carried one, in bands. Parameter: the campaign SID.
WITH latest AS (
    SELECT *, row_number() OVER (PARTITION BY item ORDER BY sequence DESC) AS newest
    FROM ledger_rows
    WHERE campaign_sid = ?
),
talks AS (
    SELECT
        talk_seconds,
        CASE
            WHEN talk_seconds < 10 THEN 0
            WHEN talk_seconds < 30 THEN 10
            WHEN talk_seconds < 60 THEN 30
            WHEN talk_seconds < 120 THEN 60
            WHEN talk_seconds < 300 THEN 120
            ELSE 300
        END AS from_seconds
    FROM latest
    WHERE newest = 1 AND kind = 'attempt' AND NOT removed
        AND status = 'completed' AND talk_seconds IS NOT NULL
)
SELECT
    from_seconds,
    count(*) AS calls,
    round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 1) AS share_pct,
    sum(talk_seconds) AS talk_seconds
FROM talks
GROUP BY from_seconds
ORDER BY from_seconds

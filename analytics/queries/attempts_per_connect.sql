-- How many attempts each number that connected took, and how many numbers took that many. Parameter: the campaign SID.
WITH latest AS (
    SELECT *, row_number() OVER (PARTITION BY item ORDER BY sequence DESC) AS newest
    FROM ledger_rows
    WHERE campaign_sid = ?
),
attempts AS (
    SELECT *
    FROM latest
    WHERE newest = 1 AND kind = 'attempt' AND NOT removed
),
outcomes AS (
    SELECT *
    FROM latest
    WHERE newest = 1 AND kind = 'outcome' AND NOT removed
),
-- a masked number's retries are stored apart, each under its own call SID: the call SIDs its
-- outcome lists say whose they are
owners AS (
    SELECT listed.call_sid, min(o.number_hash) AS subscriber
    FROM outcomes AS o
    CROSS JOIN UNNEST(o.call_sids) AS listed (call_sid)
    GROUP BY listed.call_sid
),
per_number AS (
    SELECT coalesce(w.subscriber, a.number_hash) AS subscriber, count(*) AS attempts
    FROM attempts AS a
    LEFT JOIN owners AS w ON w.call_sid = a.call_sid
    GROUP BY coalesce(w.subscriber, a.number_hash)
)
SELECT
    p.attempts,
    count(*) AS numbers,
    round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 1) AS share_pct
FROM outcomes AS o
JOIN per_number AS p ON p.subscriber = o.number_hash
WHERE o.status = 'completed'
GROUP BY p.attempts
ORDER BY p.attempts

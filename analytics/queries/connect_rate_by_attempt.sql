-- Connect rate of a number's first, second, ... attempt, in the order they were dialled. Parameter: the campaign SID.
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
numbered AS (
    SELECT
        a.status,
        row_number() OVER (
            PARTITION BY coalesce(w.subscriber, a.number_hash)
            ORDER BY a.dialled_at, a.call_sid
        ) AS attempt_number
    FROM attempts AS a
    LEFT JOIN owners AS w ON w.call_sid = a.call_sid
)
SELECT
    attempt_number,
    count(*) AS attempts,
    count_if(status = 'completed') AS connected,
    round(100 * CAST(count_if(status = 'completed') AS double) / count(*), 1) AS connect_rate_pct
FROM numbered
WHERE status IN ('completed', 'busy', 'no-answer', 'failed', 'canceled')
GROUP BY attempt_number
ORDER BY attempt_number

-- The campaign beside the campaigns created before it, newest first. Parameters: the campaign SID, how many earlier campaigns.
WITH latest AS (
    SELECT *, row_number() OVER (PARTITION BY item ORDER BY sequence DESC) AS newest
    FROM ledger_rows
),
stored AS (
    SELECT *
    FROM latest
    WHERE newest = 1 AND NOT removed
),
campaigns AS (
    SELECT campaign_sid, date_created
    FROM stored
    WHERE kind = 'campaign' AND date_created IS NOT NULL
),
ranked AS (
    SELECT
        c.campaign_sid,
        c.date_created,
        row_number() OVER (ORDER BY c.date_created DESC, c.campaign_sid DESC) - 1 AS campaigns_back
    FROM campaigns AS c
    CROSS JOIN (SELECT date_created, campaign_sid FROM campaigns WHERE campaign_sid = ?) AS this
    WHERE c.date_created < this.date_created
        OR (c.date_created = this.date_created AND c.campaign_sid <= this.campaign_sid)
),
chosen AS (
    SELECT *
    FROM ranked
    WHERE campaigns_back <= ?
)
SELECT
    c.campaigns_back,
    c.campaign_sid,
    c.date_created,
    count_if(s.kind = 'outcome') AS numbers,
    count_if(s.kind = 'outcome' AND s.status = 'completed') AS connected_numbers,
    round(
        100 * CAST(count_if(s.kind = 'outcome' AND s.status = 'completed') AS double)
        / nullif(count_if(s.kind = 'outcome'), 0),
        1
    ) AS connect_rate_pct,
    count_if(s.kind = 'attempt') AS attempts,
    round(CAST(count_if(s.kind = 'attempt') AS double) / nullif(count_if(s.kind = 'outcome'), 0), 2)
        AS attempts_per_number
FROM chosen AS c
LEFT JOIN stored AS s ON s.campaign_sid = c.campaign_sid
GROUP BY c.campaigns_back, c.campaign_sid, c.date_created
ORDER BY c.campaigns_back

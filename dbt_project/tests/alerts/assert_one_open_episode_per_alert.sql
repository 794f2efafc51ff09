-- An alert has at most one open episode, and every open alert has one.
select alert_id from {{ ref('mart_alert_history') }} where is_open group by alert_id having count(*) > 1
union all
select a.alert_id from {{ ref('mart_alerts') }} as a
where a.alert_id not in (select alert_id from {{ ref('mart_alert_history') }} where is_open)

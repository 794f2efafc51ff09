{{ config(
    materialized='incremental',
    unique_key='episode_key',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    full_refresh=false,
) }}
-- When each alert opened and closed: one row per episode (alert_id, opened_date), kept across nights
-- (incremental). Run for as_of A: an alert in int_alerts_current without an episode open at A opens
-- one (opened_date = A); an episode open at A whose alert no longer holds closes (closed_date = A).
-- "Open at A" includes an episode closed on A by an earlier run of the same A, so rerunning a night
-- gives the same rows. A `--full-refresh` night keeps the history (full_refresh=false: it is the record
-- of when alerts opened, which no rebuild can recompute); to forget it, drop the table.
with current_alerts as (
    select alert_id, alert_type, entity_type, entity_id from {{ ref('int_alerts_current') }}
),

previous as (
    {% if is_incremental() %}
    select * from {{ this }}
    where opened_date <= {{ as_of() }}
      and (closed_date is null or closed_date = {{ as_of() }})
    {% else %}
    select
        null::varchar as episode_key, null::varchar as alert_id, null::varchar as alert_type,
        null::varchar as entity_type, null::varchar as entity_id, null::date as opened_date,
        null::date as closed_date, null::date as last_seen_date, null::boolean as is_open
    where false
    {% endif %}
),

continuing as (
    select
        p.episode_key, p.alert_id, p.alert_type, p.entity_type, p.entity_id, p.opened_date,
        null::date as closed_date,
        greatest(p.last_seen_date, {{ as_of() }}) as last_seen_date
    from previous as p
    inner join current_alerts as c on c.alert_id = p.alert_id
),

closed as (
    select
        p.episode_key, p.alert_id, p.alert_type, p.entity_type, p.entity_id, p.opened_date,
        {{ as_of() }} as closed_date,
        p.last_seen_date
    from previous as p
    where p.alert_id not in (select alert_id from current_alerts)
),

opened as (
    select
        c.alert_id || '|' || strftime({{ as_of() }}, '%Y-%m-%d') as episode_key,
        c.alert_id, c.alert_type, c.entity_type, c.entity_id,
        {{ as_of() }} as opened_date,
        null::date as closed_date,
        {{ as_of() }} as last_seen_date
    from current_alerts as c
    where c.alert_id not in (select alert_id from previous)
),

final as (
    select *, closed_date is null as is_open
    from (
        select * from continuing
        union all select * from closed
        union all select * from opened
    )
)

select * from final

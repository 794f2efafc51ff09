-- One input fingerprint per board key (client_id|period) of mart_progress_board, which is incremental by
-- board key (macros/fingerprint_incremental.sql, built fingerprints kept beside it): a hash of everything
-- a board row is computed from.
-- - The client × month's chain tasks (bookkeeping service, with a service month, the four period stages,
--   cancelled ones too: a superset) with their task fingerprints (int_task_fingerprints: the raw row,
--   its upstream's, the assignee's name / team / role, the client's name and industry, the labels, the
--   chain's SQL and progress_status macro, and the as-of date while the task or its upstream is open;
--   so a row with an open stage task, whose days late and 🟠 临期 move with the date, changes nightly),
--   each with its contract's hash (below).
-- - The client's contracts (all of them: the spine's contract months come from its bookkeeping ones),
--   each hashed with its dates, state as of the date, effective signing date, whether that date has
--   been reached (the board's default signing state) and the set of its signing tasks with their task
--   fingerprints; the client's name, industry and accountant (dim_clients: name and team).
-- - The enum labels, the at-risk days, the board's months and both models' SQL.
-- The keys are every client with a bookkeeping contract or a chain task in the board's months × each of
-- those months: a superset of the board's rows (a key without a row builds nothing). The as-of month
-- moves the months only: a month's row does not otherwise depend on it (its contract months are capped
-- at the as-of month, which a month in the window never exceeds).
{%- set period_stages = ['document_collection', 'bookkeeping', 'tax_filing', 'fee_collection'] %}
{%- set as_of_period = "strftime(" ~ as_of() ~ ", '%Y-%m')" %}
{%- set first_board_period = "strftime(date_trunc('month', " ~ as_of() ~ ") - interval ("
    ~ var('progress_board_months') ~ " - 1) month, '%Y-%m')" %}
{%- set macros_text = '' %}
{%- if execute %}
    {#- the macros the board renders (their text, with the date and relation names taken out) -#}
    {%- set macros_text = (enum_label('enum', 'code') ~ progress_status('state', 'done', 'due'))
        | replace(ref('contract_enum_labels') | string, 'labels') | replace(as_of_date_str(), 'as_of') %}
{%- endif %}
with labels as (
    select coalesce(sum(hash(l.enum_name, l.code, l.label_cn)), 0) as labels_hash
    from {{ ref('contract_enum_labels') }} as l
),

chain as (
    select client_id, period, task_id, input_fingerprint, contract_id
    from {{ ref('fct_tasks') }}
    where service_type = 'bookkeeping'
      and period is not null
      and stage in ({% for s in period_stages %}'{{ s }}'{{ ', ' if not loop.last }}{% endfor %})
      and period between {{ first_board_period }} and {{ as_of_period }}
),

signing as (
    select contract_id, {{ task_set_hash('task_id', 'input_fingerprint') }} as signing_hash
    from {{ ref('fct_tasks') }}
    where stage = 'signing' and contract_id is not null
    group by contract_id
),

-- every contract a row can read: the client's, and any a chain or signing task names (also one
-- missing from dim_contracts)
contracts as (
    select
        coalesce(k.contract_id, s.contract_id) as contract_id,
        k.client_id,
        k.service_type = 'bookkeeping' as is_bookkeeping,
        hash(
            k.service_type,
            k.start_date,
            k.end_date,
            k.state_as_of,
            k.effective_signed_date,
            k.effective_signed_date <= {{ as_of() }},
            s.signing_hash
        ) as contract_hash
    from {{ ref('dim_contracts') }} as k
    full outer join signing as s on s.contract_id = k.contract_id
),

client_contracts as (
    select
        client_id,
        hash(count(*), sum(hash(contract_id, contract_hash))) as contracts_hash,
        bool_or(is_bookkeeping) as has_bookkeeping
    from contracts
    where client_id is not null
    group by client_id
),

chain_months as (
    select
        t.client_id,
        t.period,
        hash(count(*), sum(hash(t.task_id, t.input_fingerprint, t.contract_id, k.contract_hash))) as chain_hash
    from chain as t
    left join contracts as k on k.contract_id = t.contract_id
    group by t.client_id, t.period
),

board_clients as (
    select client_id from client_contracts where has_bookkeeping
    union
    select client_id from chain_months
),

months as (
    select strftime(unnest(generate_series(
        date_trunc('month', {{ as_of() }}) - interval ({{ var('progress_board_months') }} - 1) month,
        date_trunc('month', {{ as_of() }}),
        interval 1 month
    )), '%Y-%m') as period
),

final as (
    select
        b.client_id || '|' || m.period as board_key,
        hash(
            '{{ models_code_md5(["int_progress_board_fingerprints", "mart_progress_board"]) }}',
            '{{ local_md5(macros_text) }}',
            l.labels_hash,
            {{ var('progress_at_risk_days') }},
            {{ var('progress_board_months') }},
            c.client_name,
            c.industry,
            c.industry_cn,
            c.accountant_id,
            c.accountant_name,
            c.team,
            cc.contracts_hash,
            cm.chain_hash
        ) as input_fingerprint
    from board_clients as b
    cross join months as m
    cross join labels as l
    left join {{ ref('dim_clients') }} as c on c.client_id = b.client_id
    left join client_contracts as cc on cc.client_id = b.client_id
    left join chain_months as cm on cm.client_id = b.client_id and cm.period = m.period
)

select * from final

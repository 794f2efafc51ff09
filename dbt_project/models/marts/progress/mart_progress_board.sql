-- Progress board: one row per bookkeeping client × service month (up to the as-of month) with the
-- chain 签约 → 票据采集 → 记账 → 报税 → 收款. Stage states come from mart_progress_detail.
-- Incremental by board key (macros/fingerprint_incremental.sql, built fingerprints): a night rebuilds only
-- the rows whose input fingerprint (int_progress_board_fingerprints: the client × month's chain tasks and
-- the client's contracts and signing tasks with their task fingerprints, the client's attributes) is not
-- the one the row was built for; a row with an open stage changes nightly (its task fingerprints hold
-- the as-of date), a settled month keeps its row. Without recorded fingerprints every row is built.
-- depends_on: {{ ref('int_progress_board_fingerprints') }}
{%- set period_stages = ['document_collection', 'bookkeeping', 'tax_filing', 'fee_collection'] %}
{%- set stages = ['signing'] + period_stages %}
{%- set stage_cn = {'signing': '签约', 'document_collection': '票据采集', 'bookkeeping': '记账',
                    'tax_filing': '报税', 'fee_collection': '收款'} %}
{%- set state_cn = {'not_started': '未开始', 'in_progress': '进行中', 'completed': '已完成',
                    'delayed': '已延迟'} %}
{#- literal expressions, not a subquery of as_of_month: DuckDB filters the tasks' scan with them -#}
{%- set as_of_period = "strftime(" ~ as_of() ~ ", '%Y-%m')" %}
{%- set first_board_period = "strftime(date_trunc('month', " ~ as_of() ~ ") - interval ("
    ~ var('progress_board_months') ~ " - 1) month, '%Y-%m')" %}
with as_of_month as (
    -- the board shows the last `progress_board_months` service months up to the as-of month
    select
        {{ as_of_period }} as period,
        {{ first_board_period }} as first_period
),

-- Service months of bookkeeping contracts signed by the as-of date, from the start month to the end
-- month (capped at the as-of month). A terminated contract's end month is not known, so it only
-- contributes the months for which chain tasks exist (task_periods below).
contract_months as (
    select
        k.client_id,
        strftime(m.month_start, '%Y-%m') as period,
        k.contract_id,
        row_number() over (
            partition by k.client_id, m.month_start order by k.start_date desc, k.contract_id desc
        ) as contract_rank
    from {{ ref('dim_contracts') }} as k
    cross join lateral (
        select unnest(generate_series(
            date_trunc('month', k.start_date),
            least(date_trunc('month', k.end_date), date_trunc('month', {{ as_of() }})),
            interval 1 month
        )) as month_start
    ) as m
    where k.service_type = 'bookkeeping'
      and k.state_as_of in ('signed_not_started', 'active', 'expired')
      {#- a night's rebuilt keys: contract_rank is per (client, month), so other rows change no kept rank #}
      {{ rebuilt_periods_filter('int_progress_board_fingerprints', 'board_key',
                                "k.client_id || '|' || strftime(m.month_start, '%Y-%m')", 'and') }}
),

-- The chain task of each client × period × stage; if a stage was re-created, the latest one counts.
chain_tasks as (
    select
        d.*,
        row_number() over (
            partition by d.client_id, d.period, d.stage order by d.created_date desc, d.task_id desc
        ) as task_rank
    -- the detail mart is read here and in signing_tasks directly, not through one shared CTE: DuckDB
    -- materializes a CTE read twice (all 8.8 M rows at 100,000 clients), before either filter applies
    from {{ ref('mart_progress_detail') }} as d
    where d.service_type = 'bookkeeping'
      and d.period_source = 'task'
      and d.stage in ({% for s in period_stages %}'{{ s }}'{{ ', ' if not loop.last }}{% endfor %})
      -- only the board's months: a task of an earlier month joins no spine row (spine below), and
      -- task_rank is per (client, period, stage), so dropping other months changes no kept rank
      and d.period between {{ first_board_period }} and {{ as_of_period }}
      {{ rebuilt_periods_filter('int_progress_board_fingerprints', 'board_key', "d.client_id || '|' || d.period", 'and') }}
),

task_periods as (
    select client_id, period, max(contract_id) as contract_id
    from chain_tasks
    group by client_id, period
),

spine as (
    select
        coalesce(cm.client_id, tp.client_id) as client_id,
        coalesce(cm.period, tp.period) as period,
        coalesce(cm.contract_id, tp.contract_id) as contract_id
    from (select * from contract_months where contract_rank = 1) as cm
    full outer join task_periods as tp on tp.client_id = cm.client_id and tp.period = cm.period
    where coalesce(cm.period, tp.period) >= (select first_period from as_of_month)
),

-- Signing happens once per contract: the latest live signing task of the contract.
signing_tasks as (
    select
        d.*,
        row_number() over (partition by d.contract_id order by d.created_date desc, d.task_id desc)
            as task_rank
    from {{ ref('mart_progress_detail') }} as d
    where d.stage = 'signing' and d.contract_id is not null
),

staged as (
    select
        sp.client_id,
        sp.period,
        sp.contract_id,
        k.effective_signed_date,
        {%- for s in stages %}
        {{ s }}.task_id as {{ s }}_task_id,
        {{ s }}.state as {{ s }}_task_state,
        {{ s }}.is_done as {{ s }}_task_done,
        {{ s }}.due_date as {{ s }}_due_date,
        {{ s }}.days_late as {{ s }}_days_late,
        {{ s }}.staff_id as {{ s }}_staff_id,
        {{ s }}.staff_name as {{ s }}_staff_name{{ ',' if not loop.last }}
        {%- endfor %}
    from spine as sp
    left join {{ ref('dim_contracts') }} as k on k.contract_id = sp.contract_id
    left join signing_tasks as signing on signing.contract_id = sp.contract_id and signing.task_rank = 1
    {%- for s in period_stages %}
    left join chain_tasks as {{ s }}
        on {{ s }}.client_id = sp.client_id and {{ s }}.period = sp.period
        and {{ s }}.stage = '{{ s }}' and {{ s }}.task_rank = 1
    {%- endfor %}
),

stated as (
    select
        *,
        -- a contract signed by the as-of date without a signing task in the export is signed all the same
        coalesce(
            signing_task_state,
            case when effective_signed_date <= {{ as_of() }} then 'completed' else 'not_started' end
        ) as signing_state,
        coalesce(signing_task_done, effective_signed_date <= {{ as_of() }}, false) as signing_done,
        {%- for s in period_stages %}
        coalesce({{ s }}_task_state, 'not_started') as {{ s }}_state,
        coalesce({{ s }}_task_done, false) as {{ s }}_done{{ ',' if not loop.last }}
        {%- endfor %}
    from staged
),

current_stage as (
    select
        *,
        case
            {%- for s in stages %}
            when not {{ s }}_done then '{{ s }}'
            {%- endfor %}
            else 'all_done'
        end as current_stage
    from stated
),

final as (
    select
        cs.client_id || '|' || cs.period as board_key,
        cs.client_id,
        c.client_name,
        cs.period,
        cs.contract_id,
        'bookkeeping' as service_type,
        {{ enum_label('service_type', "'bookkeeping'") }} as service_type_cn,
        c.industry,
        c.industry_cn,
        coalesce(cs.bookkeeping_staff_id, c.accountant_id) as accountant_id,
        coalesce(cs.bookkeeping_staff_name, c.accountant_name) as accountant_name,
        coalesce(a.team, c.team) as team,
        {%- for s in stages %}
        cs.{{ s }}_state,
        case cs.{{ s }}_state
            {%- for code, label in state_cn.items() %}
            when '{{ code }}' then '{{ label }}'
            {%- endfor %}
        end as {{ s }}_state_cn,
        {{ progress_status('cs.' ~ s ~ '_state', 'cs.' ~ s ~ '_done', 'cs.' ~ s ~ '_due_date') }} as {{ s }}_status,
        cs.{{ s }}_task_id,
        cs.{{ s }}_due_date,
        {%- endfor %}
        cs.current_stage,
        case cs.current_stage
            {%- for s in stages %}
            when '{{ s }}' then '{{ stage_cn[s] }}'
            {%- endfor %}
            else '全部完成'
        end as current_stage_cn,
        case cs.current_stage
            {%- for s in stages %}
            when '{{ s }}' then cs.{{ s }}_state
            {%- endfor %}
        end as current_stage_state,
        case cs.current_stage
            {%- for s in stages %}
            when '{{ s }}' then cs.{{ s }}_task_id
            {%- endfor %}
        end as current_stage_task_id,
        case cs.current_stage
            {%- for s in stages %}
            when '{{ s }}' then cs.{{ s }}_due_date
            {%- endfor %}
        end as current_stage_due_date,
        case cs.current_stage
            {%- for s in stages %}
            when '{{ s }}' then cs.{{ s }}_staff_id
            {%- endfor %}
        end as current_stage_staff_id,
        case cs.current_stage
            {%- for s in stages %}
            when '{{ s }}' then cs.{{ s }}_staff_name
            {%- endfor %}
        end as current_stage_staff_name,
        -- the current stage is never done, so its task's days_late is as_of - due when past due, else 0
        cast(coalesce(case cs.current_stage
            {%- for s in stages %}
            when '{{ s }}' then cs.{{ s }}_days_late
            {%- endfor %}
        end, 0) as integer) as days_late,
        cast(
            {%- for s in stages %} cs.{{ s }}_done::integer{{ ' +' if not loop.last }}{% endfor %}
            as integer) as stages_done_count
    from current_stage as cs
    left join {{ ref('dim_clients') }} as c on c.client_id = cs.client_id
    left join {{ ref('dim_staff') }} as a on a.staff_id = cs.bookkeeping_staff_id
)

select * from final

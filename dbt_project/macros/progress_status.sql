{#- The status a manager sees, with its colour (doc metric_progress_status): 🔴 overdue (open past its
    due date), 🟠 at risk (open, due within progress_at_risk_days), ⚪ done (grey; 已完成（延迟） when
    finished after the due date), else 进行中 / 未开始 without a mark. `state` is a progress state
    (not_started, in_progress, completed, delayed). -#}
{% macro progress_status(state, is_done, due_date) -%}
    case
        when {{ state }} = 'delayed' and not coalesce({{ is_done }}, false) then '🔴 已延迟'
        when {{ state }} = 'delayed' then '⚪ 已完成（延迟）'
        when {{ state }} = 'completed' then '⚪ 已完成'
        when {{ due_date }} <= {{ as_of() }} + to_days({{ var('progress_at_risk_days') }}) then '🟠 临期'
        when {{ state }} = 'in_progress' then '进行中'
        else '未开始'
    end
{%- endmacro %}

{% macro progress_status_color(state, is_done, due_date) -%}
    case
        when {{ state }} = 'delayed' and not coalesce({{ is_done }}, false) then 'red'
        when {{ state }} in ('delayed', 'completed') then 'grey'
        when {{ due_date }} <= {{ as_of() }} + to_days({{ var('progress_at_risk_days') }}) then 'amber'
        else 'none'
    end
{%- endmacro %}

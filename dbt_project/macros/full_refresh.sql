{#- dbt's should_full_refresh(), overridden (a root project's macro wins over dbt's global one): a model
    listed in the environment variable OPSCENTER_FULL_REFRESH_MODELS (comma-separated model names) is
    rebuilt from scratch as under --full-refresh, in the same invocation as the other models. The night
    lists the incremental models whose code state differs from the one recorded in the warehouse
    (orchestration/code_state.py, an upgrade night). The model's own full_refresh config still wins
    (mart_alert_history keeps its history), and --full-refresh still refreshes everything. The variable
    is read only at execution time, as DBT_AS_OF_DATE (macros/as_of.sql): not part of the parse. -#}
{% macro should_full_refresh() %}
    {%- set configured = config.get('full_refresh') %}
    {%- if configured is not none %}{{ return(configured) }}{% endif %}
    {%- if flags.FULL_REFRESH %}{{ return(true) }}{% endif %}
    {%- if not execute or model is not defined or model is none %}{{ return(false) }}{% endif %}
    {%- set listed = env_var('OPSCENTER_FULL_REFRESH_MODELS', '').split(',') | map('trim') | list %}
    {{- return(model.resource_type == 'model' and model.name in listed) }}
{% endmacro %}

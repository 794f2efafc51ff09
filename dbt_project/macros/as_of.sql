{#- The date every number is computed for. Models call as_of() and never read the clock, so a rerun
    for a past date reconstructs that day. It comes from the dbt var `as_of_date` or, when that var is not
    passed, from the environment variable DBT_AS_OF_DATE. The night uses the variable: dbt discards its
    whole partial-parse state whenever --vars change (and as_of_date changes every night), while an
    environment variable read only at execution time is not part of the parse at all, so the night
    reuses the project's parse instead of re-parsing 675 nodes. Missing or malformed fails the run
    clearly; at parse time (execute is false, e.g. `dbt parse` for the Dagster manifest) a placeholder is
    used and the environment is deliberately not read (dbt would record it and re-parse on a change). -#}
{% macro as_of_date_str() -%}
    {%- set value = var("as_of_date", none) -%}
    {%- if (value is none or (value | string | trim) == "") and execute -%}
        {%- set value = env_var("DBT_AS_OF_DATE", "") -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) == "" -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "dbt var 'as_of_date' is required: pass --vars '{as_of_date: YYYY-MM-DD}' "
                ~ "or set DBT_AS_OF_DATE (缺少 as_of_date 参数)") }}
        {%- endif -%}
        {{- return("1970-01-01") -}}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", value) -%}
        {{ exceptions.raise_compiler_error(
            "dbt var 'as_of_date' must be YYYY-MM-DD, got '" ~ value ~ "' (as_of_date 格式错误)") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}

{% macro as_of() -%}
    cast('{{ as_of_date_str() }}' as date)
{%- endmacro %}

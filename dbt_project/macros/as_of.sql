{#- The date every number is computed for. Models call as_of() and never read the clock, so a rerun
    for a past date reconstructs that day. Missing or malformed `as_of_date` fails the run clearly;
    at parse time (execute is false, e.g. `dbt parse` for the Dagster manifest) a placeholder is used. -#}
{% macro as_of_date_str() -%}
    {%- set value = var("as_of_date", none) -%}
    {%- if value is none or (value | string | trim) == "" -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "dbt var 'as_of_date' is required: pass --vars '{as_of_date: YYYY-MM-DD}' "
                ~ "(缺少 as_of_date 参数)") }}
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

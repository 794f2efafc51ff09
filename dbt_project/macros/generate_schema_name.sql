{#- Schemas are exactly the configured names (staging, intermediate, core, marts, seeds), never
    prefixed with the target schema: the layers are a fixed interface (docs/architecture.md). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

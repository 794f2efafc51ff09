{#- The tables of schema `ml` are written by the Python model assets (orchestration/models, Dagster
    keys ml/<table>) and read by the marts as source('ml', ...). They are declared once, as that
    source's tables with typed columns (models/marts/renewals/_renewals_ml.yml); the Python side
    reads the same file (orchestration/models/ml_tables.py). On a dbt-only run (tests, a hand
    `dbt build`) they may not exist yet: create them empty, and add the columns declared since an
    existing warehouse was built. Called from on-run-start. -#}
{% macro create_ml_tables() -%}
    {%- if execute %}
    create schema if not exists ml;
    {%- for node in graph.sources.values() if node.source_name == 'ml' %}
    {%- set cols = node.columns.values() | list %}
    create table if not exists ml.{{ node.name }} (
        {%- for col in cols %}
        "{{ col.name }}" {{ col.data_type }}{{ "," if not loop.last }}
        {%- endfor %}
    );
    {%- for col in cols %}
    alter table ml.{{ node.name }} add column if not exists "{{ col.name }}" {{ col.data_type }};
    {%- endfor %}
    {%- endfor %}
    {%- endif %}
{%- endmacro %}

{#- The tables of schema `ml` are built by the dbt Python models under models/ml (the renewal model)
    and ref'd by the forecast, the renewal marts and the alerts. Their columns are declared once, with
    types, in models/ml/_ml.yml; the Python side casts to the same declaration
    (orchestration/models/ml_tables.py). A dbt-only run that leaves those models out (tests that
    provide the scores themselves, a hand `dbt build --exclude path:models/ml`) still needs the tables:
    create them empty, and add the columns declared since an existing warehouse was built. Only those
    left out: a selected model builds its table itself (dbt's relation cache, filled before this hook,
    would not know a table created here, and the model's final rename would collide with it). Called
    from on-run-start. -#}
{% macro create_ml_tables() -%}
    {%- if execute %}
    create schema if not exists ml;
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.fqn[1] == 'ml' and node.unique_id not in selected_resources %}
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

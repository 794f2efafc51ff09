{#- A staging model (rename/cast only): every column of source('raw', entity) cast to the data_type its
    _sources.yml entry declares (the raw contract's type, checked by tests/test_staging_enums.py), in the
    yml's order. `renames` maps a raw column to its staging name; the loader's lineage columns become
    source_file / source_line and _extra (unknown columns as JSON) stays in raw. -#}
{% macro stage_source(entity, renames={}) -%}
    {%- set relation = source('raw', entity) -%}
    {%- set lineage = {'_source_file': 'source_file', '_source_line': 'source_line'} -%}
    {%- set columns = [] -%}
    {%- if execute -%}
        {%- for node in graph.sources.values()
                if node.source_name == 'raw' and node.name == entity -%}
            {%- for col in node.columns.values() if col.name != '_extra' -%}
                {%- do columns.append(col) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if not columns -%}
            {{ exceptions.raise_compiler_error("stage_source: raw." ~ entity ~ " declares no columns in _sources.yml") }}
        {%- endif -%}
    {%- endif %}
with source as (
    select * from {{ relation }}
),

final as (
    select
    {%- for col in columns %}
        cast({{ col.name }} as {{ col.data_type }}) as {{ renames.get(col.name, lineage.get(col.name, col.name)) }}
        {%- if not loop.last %},{% endif %}
    {%- else %}
        *
    {%- endfor %}
    from source
)

select * from final
{%- endmacro %}

{#- Chinese label of a contract enum code, from the `contract_enum_labels` seed (generated from
    orchestration/contract.py, so the labels are stated once). -#}
{% macro enum_label(enum_name, column) -%}
    (select l.label_cn from {{ ref('contract_enum_labels') }} as l
     where l.enum_name = '{{ enum_name }}' and l.code = {{ column }})
{%- endmacro %}

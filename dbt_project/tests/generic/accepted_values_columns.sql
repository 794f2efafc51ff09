{#- Generic test: each listed column of a model holds only its accepted values. `columns` maps a column
    to its list of values. One dbt node (and one Dagster asset check) per model instead of one per
    column, as not_null_columns does: each test node costs dbt ~40 ms CPU outside its SQL whatever the
    table's size (docs/benchmarks.md, dbtoverhead and avfold).
    Per column the query is dbt's own accepted_values (quote: true by default): the column's distinct
    values (group by) outside the list, so a NULL is never a failure (dbt's test skips it too). The
    columns' queries are one statement (union all), each reading its one column: measured at 10k
    clients, cheaper than one scan of all the columns with a row-wise `not in` (DuckDB compares the
    few distinct values, not every row; docs/benchmarks.md, avfold). A failing row is one value outside
    the list: `failing_column`, the value as text in `failing_value` and `n_records`, so the failure
    count is the sum of what dbt's accepted_values tests on the columns would count. The failure
    report (orchestration/quality/dbt_tests.py) looks up the model's keys of rows holding such a value,
    as it does for dbt's test. -#}
{% test accepted_values_columns(model, columns, quote=true) %}
{%- for column, values in columns.items() %}
select
    '{{ column }}' as failing_column,
    cast({{ column }} as varchar) as failing_value,
    count(*) as n_records
from {{ model }}
group by {{ column }}
having {{ column }} not in (
    {%- for value in values -%}
        {%- if quote %}'{{ value }}'{% else %}{{ value }}{% endif %}{% if not loop.last %}, {% endif %}
    {%- endfor -%}
)
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}

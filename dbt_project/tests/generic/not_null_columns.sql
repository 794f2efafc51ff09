{#- Generic test: the listed columns of a model hold no NULL. One dbt node (and one Dagster asset check)
    per model instead of one per column: each test node costs dbt ~40 ms CPU outside its SQL whatever
    the table's size (docs/benchmarks.md, dbtoverhead), and the columns are checked in one pass.
    A failing row comes back once per NULL column, with the column's name in `failing_column` and the
    row's own columns, so the failure count is the number of NULL cells and the failure report
    (orchestration/quality/dbt_tests.py) names the row's key and the column. Columns of an enforced
    contract carry a not_null *constraint* instead (tests/test_dbt_constraints.py). -#}
{% test not_null_columns(model, column_names) %}
with failing_rows as (
    select *
    from {{ model }}
    where
    {%- for column in column_names %}
        {{ column }} is null{% if not loop.last %} or{% endif %}
    {%- endfor %}
)
{% for column in column_names %}
select '{{ column }}' as failing_column, failing_rows.*
from failing_rows
where {{ column }} is null
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}

{#
  dbt's generic `unique` test for DuckDB, cheaper on an expression key (e.g. "(cutoff_date, invoice_id)"
  or "period || '|' || staff_id"). dbt's own SQL groups every row by the expression; DuckDB then builds
  a struct or a string per row and keys a hash table with it (the *_at_cutoffs tests group 14 M rows
  that way at 100,000 clients). Here a first pass groups by the expression's 64-bit hash only, and the
  second pass runs dbt's own query on the rows whose hash occurs more than once: equal values have
  equal hashes (DuckDB's GROUP BY compares with the same hash), so every duplicated value is among
  those rows, and the second pass returns exactly dbt's rows (unique_field, n_records): the same failure
  count, the same rows for the failure report (orchestration/quality/dbt_tests.py). On a clean table
  the second pass reads no rows. A plain column keeps dbt's query: its hash is no cheaper to group than
  the column itself (docs/benchmarks.md, "Generic dbt tests", overhead section).
  dbt dispatches `test_unique` to the root project's duckdb__ macro first; the other generic tests keep
  dbt's SQL (measured, no cheaper form found).
#}
{% macro duckdb__test_unique(model, column_name) %}
    {%- if modules.re.fullmatch('\s*("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*', column_name) -%}
        {{ dbt.default__test_unique(model, column_name) }}
    {%- else %}
with duplicated_hashes as (
    select hash({{ column_name }}) as value_hash
    from {{ model }}
    group by hash({{ column_name }})
    having count(*) > 1
)

select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where
    hash({{ column_name }}) in (select duplicated_hashes.value_hash from duplicated_hashes)
    and {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1
    {%- endif %}
{% endmacro %}

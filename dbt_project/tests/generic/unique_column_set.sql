{#- Generic test (money session): no two rows share the same values of the given columns, e.g. a
    per-cutoff model's (cutoff_date, payment_id). Groups by the columns themselves instead of dbt's
    unique test on a "(a, b)" expression, which groups by a struct value per row (slower on the
    per-cutoff models' 13-16 M rows). NULLs group together: declare not_null on the columns as well. -#}
{% test unique_column_set(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_records
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

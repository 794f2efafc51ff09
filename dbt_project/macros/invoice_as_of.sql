{#- An invoice's void / write-off counts at a cutoff only once its update (updated_at, else the issue
    date) happened on or before it: the state "as of" a past date is what the firm knew then. Stated
    once here for int_invoices_at_cutoffs and the rule model that reads the invoice a payment names. -#}
{% macro invoice_update_known_by(updated_at, issue_date, cutoff_date) -%}
    coalesce(cast({{ updated_at }} as date), {{ issue_date }}) <= {{ cutoff_date }}
{%- endmacro %}

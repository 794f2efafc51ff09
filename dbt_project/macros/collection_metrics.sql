{#- The collections metrics' formulas, written once (docs metric_collection_rate,
    metric_invoice_on_time_rate, metric_avg_days_to_pay). Every model that publishes one of these rates
    computes it here from its summed numerator and denominator, so a roll-up recomputes the rate
    instead of averaging rates. NULL when the denominator is 0. -#}
{% macro collection_rate(billed_collected_amount, billed_amount) -%}
    {{ billed_collected_amount }} / nullif({{ billed_amount }}, 0)
{%- endmacro %}

{% macro on_time_rate(invoices_due_paid_on_time, invoices_due) -%}
    {{ invoices_due_paid_on_time }} / nullif({{ invoices_due }}, 0)
{%- endmacro %}

{% macro avg_days_to_pay(days_to_pay_total, invoices_paid) -%}
    {{ days_to_pay_total }} / nullif({{ invoices_paid }}, 0)
{%- endmacro %}

{#- The additive measures of the collections analysis (mart_collections_by_period and its one-dimension
    roll-up mart_collections_by_dimension), in their published order. -#}
{% macro collection_additive_measures() -%}
    {{ return(['billed_amount', 'invoices_billed', 'billed_collected_amount', 'collected_amount',
               'invoices_paid', 'days_to_pay_total', 'invoices_due', 'invoices_due_paid_on_time']) }}
{%- endmacro %}

{#- The published measure columns of the collections analysis marts, typed, with the three rates
    computed from the summed columns of the same row. `with_days_to_pay_total` also publishes the
    days-to-pay numerator. -#}
{% macro collection_measure_columns(with_days_to_pay_total=false) -%}
    cast(billed_amount as decimal(18, 2)) as billed_amount,
    cast(invoices_billed as integer) as invoices_billed,
    cast(billed_collected_amount as decimal(18, 2)) as billed_collected_amount,
    cast({{ collection_rate('billed_collected_amount', 'billed_amount') }} as double) as collection_rate,
    cast(collected_amount as decimal(18, 2)) as collected_amount,
    cast(invoices_paid as integer) as invoices_paid,
    {%- if with_days_to_pay_total %}
    cast(days_to_pay_total as bigint) as days_to_pay_total,
    {%- endif %}
    cast({{ avg_days_to_pay('days_to_pay_total', 'invoices_paid') }} as double) as avg_days_to_pay,
    cast(invoices_due as integer) as invoices_due,
    cast(invoices_due_paid_on_time as integer) as invoices_due_paid_on_time,
    cast({{ on_time_rate('invoices_due_paid_on_time', 'invoices_due') }} as double) as on_time_rate
{%- endmacro %}

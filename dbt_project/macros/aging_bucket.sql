{#- The firm's one aging-bucket scheme (应收账龄), from an expression giving days past due as of the
    date (<= 0: not yet due). Used by core.fct_invoices.aging_bucket and the AR marts
    (intermediate/ar/int_ar_buckets); the provision rates (var ar_provision_rates) are keyed by it.
    Buckets: current (not past due), d1_30, d31_60, d61_90, d91_180, over_180. -#}
{% macro aging_bucket(days_past_due) -%}
    case
        when {{ days_past_due }} <= 0 then 'current'
        when {{ days_past_due }} <= 30 then 'd1_30'
        when {{ days_past_due }} <= 60 then 'd31_60'
        when {{ days_past_due }} <= 90 then 'd61_90'
        when {{ days_past_due }} <= 180 then 'd91_180'
        else 'over_180'
    end
{%- endmacro %}

{#- A number as text in its unit, for tables whose rows mix units (the cockpit's targets):
    cny → ¥ with thousands separators, in 万 (2 decimals) from 10,000; pct → ratio as percent with
    1 decimal; num → 1 decimal with thousands separators. NULL stays NULL (pages show —). -#}
{% macro display_value(value, unit) -%}
    case
        when {{ value }} is null then null
        when {{ unit }} = 'cny' and abs({{ value }}) >= 10000
            then case when {{ value }} < 0 then '-' else '' end || '¥' || format('{:,.2f}', abs({{ value }}) / 10000) || '万'
        when {{ unit }} = 'cny'
            then case when {{ value }} <= -0.5 then '-' else '' end || '¥' || format('{:,.0f}', abs({{ value }}))
        when {{ unit }} = 'pct' then format('{:.1f}', 100 * {{ value }}) || '%'
        else format('{:,.1f}', {{ value }})
    end
{%- endmacro %}

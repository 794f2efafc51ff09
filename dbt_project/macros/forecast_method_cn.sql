{#- Chinese name of a collection-forecast method (int_forecast_predictions.method). -#}
{% macro forecast_method_cn(method) -%}
    case {{ method }}
        when 'model' then '回款模型'
        when 'last_month' then '上月实际'
        when 'trailing_3m_mean' then '近3个月均值'
        when 'seasonal_trend' then '去年同月×趋势'
    end
{%- endmacro %}

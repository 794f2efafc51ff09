-- The client attributes the collection forecast reads (int_forecast_components) and fingerprints
-- (int_forecast_input_fingerprints): one model, so the fingerprint reads exactly what the forecast reads.
with final as (
    select client_id, coalesce(industry, 'other') as industry from {{ ref('dim_clients') }}
)

select * from final

-- Every contract with its source update date (a termination counts at a cutoff once updated by then),
-- as the collection forecast reads (int_forecast_components) and fingerprints
-- (int_forecast_input_fingerprints) them: one model, so the fingerprint reads exactly what the forecast reads.
with final as (
    select
        k.contract_id,
        k.client_id,
        k.service_type,
        k.billing_cycle,
        k.fee_per_cycle,
        k.start_date,
        k.end_date,
        k.effective_signed_date,
        k.previous_contract_id,
        k.source_status,
        cast(s.updated_at as date) as source_updated_date
    from {{ ref('dim_contracts') }} as k
    inner join {{ ref('stg_contracts') }} as s on s.contract_id = k.contract_id
)

select * from final

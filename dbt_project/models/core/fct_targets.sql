-- Business targets (optional entity), with labels; scope_id is '' for company-wide targets so the
-- key is never NULL.
with targets as (
    select * from {{ ref('stg_targets') }}
),

final as (
    select
        period || '|' || metric || '|' || scope_type || '|' || coalesce(scope_id, '') as target_key,
        period,
        metric,
        {{ enum_label('metric', 'metric') }} as metric_cn,
        scope_type,
        {{ enum_label('scope_type', 'scope_type') }} as scope_type_cn,
        coalesce(scope_id, '') as scope_id,
        target_value
    from targets
)

select * from final

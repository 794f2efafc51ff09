-- 信用等级汇总: one row per credit tier held by at least one client, with its client count, money owed
-- and collection strategy, selected from mart_ar_credit_tiers.
with tiers as (
    select * from {{ ref('mart_ar_credit_tiers') }}
),

levels as (
    select distinct credit_tier, credit_tier_cn, tier_sort, collection_strategy from tiers
),

aggregated as (
    select
        credit_tier,
        count(*) as clients,
        count(*) filter (where open_receivable_amount > 0) as clients_owing,
        sum(open_receivable_amount) as open_receivable_amount,
        sum(overdue_amount) as overdue_amount
    from tiers
    group by credit_tier
),

final as (
    select
        l.credit_tier,
        l.credit_tier_cn,
        l.tier_sort,
        l.collection_strategy,
        cast(coalesce(a.clients, 0) as integer) as clients,
        cast(coalesce(a.clients_owing, 0) as integer) as clients_owing,
        cast(coalesce(a.open_receivable_amount, 0) as decimal(18, 2)) as open_receivable_amount,
        cast(coalesce(a.overdue_amount, 0) as decimal(18, 2)) as overdue_amount
    from levels as l
    left join aggregated as a on a.credit_tier = l.credit_tier
)

select * from final

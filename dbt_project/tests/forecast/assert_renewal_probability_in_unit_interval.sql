select contract_id from {{ ref('mart_renewal_scores') }}
where renewal_probability < 0 or renewal_probability > 1

-- No payment applies more than it brought in, every application is positive, and unidentified
-- payments apply nothing.
select p.payment_id, p.amount, p.identification_method, sum(a.applied_amount) as applied, min(a.applied_amount) as smallest
from {{ ref('fct_payment_applications') }} as a
inner join {{ ref('fct_payments') }} as p on p.payment_id = a.payment_id
group by p.payment_id, p.amount, p.identification_method
having sum(a.applied_amount) > p.amount
    or min(a.applied_amount) <= 0
    or p.identification_method = 'unidentified'

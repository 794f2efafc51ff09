-- Every yuan of an identified payment is either applied or client credit (never negative);
-- an unidentified payment is entirely unidentified_amount.
select payment_id, amount, applied_amount, credit_amount, unidentified_amount
from {{ ref('fct_payments') }}
where (is_identified and (applied_amount + credit_amount <> amount or credit_amount < 0 or unidentified_amount <> 0))
   or (not is_identified and (unidentified_amount <> amount or applied_amount <> 0 or credit_amount <> 0))

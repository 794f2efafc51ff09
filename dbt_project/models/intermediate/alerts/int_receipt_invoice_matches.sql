-- 疑似对应账单: each unidentified receipt paired with at most one open invoice it probably pays
-- (doc metric_receipt_invoice_match): the same amount as the invoice's open receivable, received
-- between alert_match_days_before days before the issue date and alert_match_days_after days after
-- the due date, from a payer whose name resembles the client's. Names are compared after removing
-- the city prefix, legal-form and personal-account suffixes and brackets; similar = one contains the
-- other (at least 2 characters) or Jaro-Winkler similarity >= alert_match_name_similarity. Each
-- receipt keeps its best candidate (most similar name, then nearest date) and each invoice its best
-- receipt, so a pair is one suggestion, never two alerts.
{%- set strip = "regexp_replace(regexp_replace(coalesce({col}, ''), '（[^）]*）|\\([^)]*\\)|\\s', '', 'g'), "
                ~ "'^(北京|上海|天津|重庆|深圳|广州)|(有限责任公司|股份有限公司|有限公司|公司|商行|工作室|个体户)$', '', 'g')" %}

with receipts as (
    select payment_id, paid_date, amount, payer_name, {{ strip | replace('{col}', 'payer_name') }} as payer_key
    from {{ ref('fct_payments') }}
    where not is_identified
),

invoices as (
    select
        i.invoice_id, i.client_id, i.issue_date, i.due_date, i.open_receivable_amount,
        c.client_name, {{ strip | replace('{col}', 'c.client_name') }} as client_key
    from {{ ref('fct_invoices') }} as i
    inner join {{ ref('dim_clients') }} as c on c.client_id = i.client_id
    where i.open_receivable_amount > 0
      and i.source_status <> 'paid'
),

candidates as (
    select
        r.payment_id, r.paid_date, r.amount, r.payer_name,
        i.invoice_id, i.client_id, i.client_name, i.issue_date, i.due_date,
        greatest(
            case when length(r.payer_key) >= 2 and length(i.client_key) >= 2
                      and (contains(i.client_key, r.payer_key) or contains(r.payer_key, i.client_key))
                 then 1.0 else 0.0 end,
            jaro_winkler_similarity(r.payer_key, i.client_key)
        ) as name_similarity,
        abs(datediff('day', i.due_date, r.paid_date)) as days_from_due
    from receipts as r
    inner join invoices as i
        on i.open_receivable_amount = r.amount
       and r.paid_date >= i.issue_date - to_days({{ var('alert_match_days_before') }})
       and r.paid_date <= i.due_date + to_days({{ var('alert_match_days_after') }})
),

ranked as (
    select
        *,
        row_number() over (
            partition by payment_id order by name_similarity desc, days_from_due asc, invoice_id asc
        ) as receipt_choice,
        row_number() over (
            partition by invoice_id order by name_similarity desc, days_from_due asc, payment_id asc
        ) as invoice_choice
    from candidates
    where name_similarity >= {{ var('alert_match_name_similarity') }}
),

final as (
    select
        payment_id, paid_date, amount, payer_name, invoice_id, client_id, client_name, issue_date, due_date,
        cast(name_similarity as double) as name_similarity
    from ranked
    where receipt_choice = 1 and invoice_choice = 1
)

select * from final

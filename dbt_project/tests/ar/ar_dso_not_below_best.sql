-- DSO can never be below the best possible DSO (current AR is part of AR).
select measure_date, dso, best_possible_dso
from {{ ref('mart_ar_monthly_kpis') }}
where dso < best_possible_dso - 1e-9

select * from marts.mart_renewal_scores

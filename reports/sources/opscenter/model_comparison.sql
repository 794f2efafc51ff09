select * from marts.mart_model_comparison

"""Python models (schema `ml`): what SQL can't do, fitting the renewal model.

Plain functions (`renewal.train_and_score`) so tests and the Dagster assets share them; the collection
forecast and its backtest are dbt models (dbt_project/models/intermediate/forecast, marts/forecast).
"""

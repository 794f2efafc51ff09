{#- The tables of schema `ml` are written by the Python model assets (orchestration/models,
    Dagster keys ml/<table>) and read by the forecast/alerts marts as source('ml', ...). On a
    dbt-only run (tests, a hand `dbt build`) they may not exist yet: create them empty, with the
    types of orchestration/models/ml_tables.py (keep both in step). Called from on-run-start. -#}
{% macro create_ml_tables() -%}
    create schema if not exists ml;
    create table if not exists ml.renewal_scores (
        as_of_date date, contract_id varchar, client_id varchar, end_date date,
        renewal_probability double, is_renewed boolean, model_name varchar
    );
    create table if not exists ml.renewal_model_evaluation (
        as_of_date date, cutoff_date date, model_name varchar, metric varchar, bin integer, value double
    );
    create table if not exists ml.collection_forecast (
        as_of_date date, cutoff_date date, horizon varchar, period_start date, period_end date,
        scope_type varchar, scope_id varchar, open_invoice_amount double,
        scheduled_invoice_amount double, new_business_amount double, expected_amount double,
        low_amount double, high_amount double, band_pct double
    );
    -- columns added after a warehouse was first built (tables written by Python are evolved, not rebuilt)
    alter table ml.collection_forecast add column if not exists new_business_amount double;
    create table if not exists ml.collection_forecast_backtest (
        as_of_date date, period varchar, cutoff_date date, forecast_amount double,
        low_amount double, high_amount double, actual_amount double
    );
{%- endmacro %}

"""续约模型评估: the renewal model's time-ordered hold-out evaluation and the method it publishes.

A dbt Python model (dbt-duckdb runs it in the dbt process, on one of dbt's threads, next to the SQL
nodes): orchestration/models/renewal.py `evaluate_night` fits the calibrated model, the plain
regression and the constant rate on the labels known before the cutoff, scores the hold-out and marks
the one to publish (metric is_published); ml.renewal_scores reads that mark. The C of a calibrated fit
is reused across nights through ml.renewal_model_tuning (TuningCache, written through `session`).
sklearn and pandas are imported when the model runs, not when dbt parses the project.
"""


def model(dbt, session):
    dbt.ref("int_contract_renewal_features")  # its input (read by renewal.load_features)
    from orchestration.models import ml_tables, renewal

    as_of = ml_tables.as_of_date()
    evaluation = renewal.evaluate_night(session, as_of)
    return ml_tables.typed(session, "renewal_model_evaluation", evaluation)

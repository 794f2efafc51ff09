"""续约概率: renewal probability of the contracts in force ending within 180 days.

A dbt Python model: orchestration/models/renewal.py `score_night` refits the method the evaluation
published (ml.renewal_model_evaluation, metric is_published) on every closed contract and scores the
contracts in force. sklearn and pandas are imported when the model runs, not when dbt parses.
"""


def model(dbt, session):
    dbt.ref("int_contract_renewal_features")  # its input (read by renewal.load_features)
    evaluation = dbt.ref("renewal_model_evaluation")
    from orchestration.models import ml_tables, renewal

    as_of = ml_tables.as_of_date()
    scores = renewal.score_night(session, as_of, renewal.published_model(evaluation.df()))
    return ml_tables.typed(session, "renewal_scores", scores)

"""Python models over the warehouse (scikit-learn / set-based SQL), written to schema `ml`.

Plain functions (`renewal.train_and_score`, `collections.forecast`, `collections.backtest`) so tests
call them without Dagster; orchestration/assets/ml.py wraps them as assets `ml/<table>`.
"""

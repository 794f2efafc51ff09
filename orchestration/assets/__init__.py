"""Dagster assets of the nightly pipeline (loaders in `raw`)."""

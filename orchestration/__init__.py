"""Operations reporting center: Dagster code for the nightly pipeline."""

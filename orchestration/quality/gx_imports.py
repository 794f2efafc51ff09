"""The Great Expectations modules the quality gates use, imported with analytics off.

GX reads GX_ANALYTICS_ENABLED when it is first imported, so every import of it in this project goes
through this module (the gates' runner, and the night's warm-up thread, orchestration.warmup)."""

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no usage statistics, no network

import great_expectations as gx  # noqa: E402
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    InMemoryStoreBackendDefaults,
)

__all__ = ["DataContextConfig", "InMemoryStoreBackendDefaults", "RunIdentifier", "gx"]

"""Partition definitions, one per model, defined once and imported everywhere."""


import datetime as dt
from functools import lru_cache

import dagster as dg

from drift_pipeline.lib.config import ModelConfig


@lru_cache(maxsize=64)
def _daily(start: dt.date, end_inclusive: dt.date) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(), end_date=(end_inclusive + dt.timedelta(days=1)).isoformat()
    )


def daily_partitions(config: ModelConfig) -> dg.DailyPartitionsDefinition:
    """Daily partitions from ``partitioning.start`` to ``partitioning.end`` inclusive."""
    return _daily(config.partitioning.start, config.partitioning.end)

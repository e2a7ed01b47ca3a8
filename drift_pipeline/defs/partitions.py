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


def partitioned(config: ModelConfig) -> dict:
    """``@dg.asset`` arguments shared by every per-partition asset of a model.

    Daily partitions, a backfill of any range as one run, the model's group and its risk tag.
    """
    return {"partitions_def": daily_partitions(config), "backfill_policy": dg.BackfillPolicy.single_run(),
            "group_name": config.name, "tags": {"risk_level": config.risk_level}}

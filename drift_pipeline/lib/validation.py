"""Great Expectations 1.x suites built from the declared schema plus the reference profile.

The suite checks required columns, types, null-rate bounds, numeric ranges (with tolerance),
categorical domains, row-count bounds, timestamps inside the partition window and the share
of duplicate ids (SPEC §2). Each expectation carries a severity; results are grouped into
the four Dagster asset checks of :data:`CHECKS`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from drift_pipeline.lib.config import ModelConfig, ValidationDefaults
from drift_pipeline.lib.sources import Window

# Great Expectations prints progress bars and usage-statistics chatter by default.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

CRITICAL, WARNING = "critical", "warning"

#: check name -> (description, severity when it fails, which expectation kinds feed it)
CHECKS: dict[str, tuple[str, str]] = {
    "production_batch_has_required_columns": (
        "Every declared column is present with its declared type.",
        CRITICAL,
    ),
    "production_batch_row_count_in_bounds": (
        "The partition holds a plausible number of rows (an empty batch is CRITICAL).",
        CRITICAL,
    ),
    "production_batch_timestamps_in_window": (
        "Every row's timestamp falls inside the partition's window.",
        CRITICAL,
    ),
    "production_batch_values_match_reference": (
        "Null rates, numeric ranges, categorical domains and duplicate ids stay near the reference.",
        WARNING,
    ),
}

_TYPE_LISTS = {
    "numeric": ["float64", "int64", "float32", "int32", "Float64Dtype", "Int64Dtype"],
    "boolean": ["bool", "BooleanDtype"],
    "categorical": ["object", "str", "StringDtype", "CategoricalDtype"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
}


@dataclass(frozen=True)
class ColumnProfile:
    """What validation needs to know about one column of the reference."""

    name: str
    type: str
    null_rate: float
    minimum: float | None = None
    maximum: float | None = None
    domain: tuple[str, ...] = ()


def validation_profile(config: ModelConfig, reference: pd.DataFrame) -> list[dict[str, Any]]:
    """Per-column reference facts (null rate, range, domain) as JSON-ready dicts."""
    out = []
    for spec in config.schema_:
        if spec.name not in reference.columns:
            continue
        column = reference[spec.name]
        entry: dict[str, Any] = {"name": spec.name, "type": spec.type, "null_rate": float(column.isna().mean())}
        if spec.type == "numeric" and column.notna().any():
            entry |= {"minimum": float(column.min()), "maximum": float(column.max())}
        if spec.type in {"categorical", "boolean"}:
            entry["domain"] = sorted(str(v) for v in column.dropna().unique())
        out.append(entry)
    return out


@dataclass
class CheckOutcome:
    """One Dagster asset check's verdict for one partition."""

    name: str
    passed: bool
    severity: str
    description: str
    failures: list[dict[str, Any]] = field(default_factory=list)
    evaluated: int = 0

    @property
    def summary(self) -> str:
        if self.passed:
            return f"{self.evaluated} expectations passed"
        return "; ".join(f["message"] for f in self.failures)


@lru_cache(maxsize=1)
def _batch_definition():
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_pandas("drift_pipeline")
    return context, source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("whole")


_SUITES: dict[str, tuple[Any, list[tuple[str, str]]]] = {}


def _cached_suite(config: ModelConfig, profile: list[dict[str, Any]], defaults: ValidationDefaults,
                  present: set[str]):
    """Suites are rebuilt only when the contract, reference profile, defaults or columns change."""
    key = json.dumps([config.model_dump(mode="json"), profile, defaults.model_dump(mode="json"), sorted(present)],
                     sort_keys=True, default=str)
    if key not in _SUITES:
        if len(_SUITES) > 16:
            _SUITES.clear()
        _SUITES[key] = _suite(config, profile, defaults, present)
    return _SUITES[key]


def _suite(config: ModelConfig, profile: list[dict[str, Any]], defaults: ValidationDefaults, present: set[str]):
    """Build the expectation suite; returns it and a map expectation-id -> (check name, message)."""
    import great_expectations as gx
    from great_expectations import expectations as gxe

    suite = gx.ExpectationSuite(name=f"{config.name}_production_batch")
    meaning: list[tuple[str, str]] = []

    def add(expectation, check: str, message: str) -> None:
        suite.add_expectation(expectation)
        meaning.append((check, message))

    by_name = {p["name"]: p for p in profile}
    min_rows = config.validation.min_rows if config.validation.min_rows is not None else defaults.min_rows
    max_rows = config.validation.max_rows if config.validation.max_rows is not None else defaults.max_rows
    add(
        gxe.ExpectTableRowCountToBeBetween(min_value=min_rows, max_value=max_rows, severity=CRITICAL),
        "production_batch_row_count_in_bounds",
        f"row count outside [{min_rows}, {max_rows}]",
    )
    for spec in config.schema_:
        add(
            gxe.ExpectColumnToExist(column=spec.name, severity=CRITICAL),
            "production_batch_has_required_columns",
            f"column {spec.name!r} ({spec.role}, {spec.type}) is missing",
        )
        if spec.name not in present:
            continue  # every further expectation on it would only repeat "missing"
        add(
            gxe.ExpectColumnValuesToBeInTypeList(column=spec.name, type_list=_TYPE_LISTS[spec.type], severity=CRITICAL),
            "production_batch_has_required_columns",
            f"column {spec.name!r} is not of declared type {spec.type}",
        )
        ref = by_name.get(spec.name)
        if ref is None:
            continue
        if spec.role not in {"label"}:  # labels arrive late: missing labels are expected
            allowed_null = min(1.0, ref["null_rate"] + defaults.null_rate_tolerance)
            override = config.validation.max_null_rate.get(spec.name)
            allowed_null = override if override is not None else allowed_null
            if allowed_null < 1.0:
                add(
                    gxe.ExpectColumnValuesToNotBeNull(column=spec.name, mostly=round(1 - allowed_null, 6),
                                                      severity=WARNING),
                    "production_batch_values_match_reference",
                    f"null rate of {spec.name!r} above {allowed_null:.1%}",
                )
        if spec.type == "numeric" and ref.get("minimum") is not None:
            span = ref["maximum"] - ref["minimum"]
            pad = defaults.range_tolerance * (span if span > 0 else max(abs(ref["maximum"]), 1.0))
            low, high = ref["minimum"] - pad, ref["maximum"] + pad
            add(
                gxe.ExpectColumnValuesToBeBetween(column=spec.name, min_value=low, max_value=high, mostly=0.99,
                                                  severity=WARNING),
                "production_batch_values_match_reference",
                f"values of {spec.name!r} outside the reference range widened to [{low:.4g}, {high:.4g}]",
            )
        if spec.type == "categorical" and spec.role not in {"id"} and ref.get("domain"):
            add(
                gxe.ExpectColumnValuesToBeInSet(column=spec.name, value_set=list(ref["domain"]),
                                                mostly=defaults.min_category_share_known, severity=WARNING),
                "production_batch_values_match_reference",
                f"more than {1 - defaults.min_category_share_known:.0%} of {spec.name!r} outside the reference categories",
            )
        if spec.role == "timestamp":
            # The window is a suite parameter, so one suite serves every partition.
            add(
                gxe.ExpectColumnValuesToBeBetween(column=spec.name, min_value={"$PARAMETER": "window_start"},
                                                  max_value={"$PARAMETER": "window_end"}, severity=CRITICAL),
                "production_batch_timestamps_in_window",
                f"timestamps of {spec.name!r} outside the partition's window",
            )
        if spec.role == "id":
            add(
                gxe.ExpectColumnValuesToBeUnique(column=spec.name, mostly=1 - defaults.max_duplicate_id_share,
                                                 severity=WARNING),
                "production_batch_values_match_reference",
                f"more than {defaults.max_duplicate_id_share:.0%} duplicate ids in {spec.name!r}",
            )
    return suite, meaning


def validate_batch(
    config: ModelConfig,
    batch: pd.DataFrame,
    profile: list[dict[str, Any]],
    defaults: ValidationDefaults,
    window: Window,
    problems: list[str] | None = None,
) -> list[CheckOutcome]:
    """Run the suite on one partition's batch; one :class:`CheckOutcome` per entry of :data:`CHECKS`.

    ``problems`` are load-time failures (e.g. a value that cannot be cast to its declared
    type); they fail the required-columns check with their own message.
    """
    outcomes = {
        name: CheckOutcome(name=name, passed=True, severity=severity, description=description)
        for name, (description, severity) in CHECKS.items()
    }
    for problem in problems or []:
        outcome = outcomes["production_batch_has_required_columns"]
        outcome.passed = False
        outcome.failures.append({"expectation": "load", "message": problem})
    _, batch_definition = _batch_definition()  # the suite needs an active context
    suite, meaning = _cached_suite(config, profile, defaults, set(batch.columns))
    parameters = {
        "window_start": pd.Timestamp(window.start),
        "window_end": pd.Timestamp(window.end + dt.timedelta(days=1)) - pd.Timedelta(microseconds=1),
    }
    gx_batch = batch_definition.get_batch(batch_parameters={"dataframe": batch})
    # A pass/fail answer is half the cost of a detailed one; details are computed only on failure.
    result = gx_batch.validate(suite, expectation_parameters=parameters, result_format="BOOLEAN_ONLY")
    if not result.success:
        result = gx_batch.validate(suite, expectation_parameters=parameters, result_format="SUMMARY")
    for item, (check, message) in zip(result.results, meaning, strict=True):
        outcome = outcomes[check]
        outcome.evaluated += 1
        if item.success:
            continue
        outcome.passed = False
        detail = item.result or {}
        failure = {"expectation": item.expectation_config.type, "message": message}
        if "unexpected_percent" in detail and detail["unexpected_percent"] is not None:
            failure["unexpected_percent"] = round(float(detail["unexpected_percent"]), 3)
        if "observed_value" in detail:
            failure["observed"] = str(detail["observed_value"])
        if item.exception_info and item.exception_info.get("raised_exception"):
            failure["message"] += " (could not be evaluated)"
        if check == "production_batch_timestamps_in_window":
            failure["message"] += f" {window.label}"
        outcome.failures.append(failure)
    return list(outcomes.values())


def blocking_failure(outcomes: list[CheckOutcome]) -> str | None:
    """The message of the first failed CRITICAL check, or None when drift may be computed."""
    for outcome in outcomes:
        if not outcome.passed and outcome.severity == CRITICAL:
            return f"{outcome.name}: {outcome.summary}"
    return None

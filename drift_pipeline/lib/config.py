"""Typed configuration: one YAML file per monitored model plus the monitoring policy.

Every threshold the product uses lives in ``config/`` and is parsed here by pydantic
models, so a typo in a YAML file is reported with the file and field that is wrong,
not as a ``KeyError`` deep inside an asset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ColumnRole = Literal["feature", "prediction", "score", "label", "protected", "id", "timestamp"]
ColumnType = Literal["numeric", "categorical", "boolean", "datetime"]
RiskLevel = Literal["high", "medium", "low"]
SeverityName = Literal["INFO", "WARNING", "CRITICAL"]


class ConfigError(ValueError):
    """A configuration file is missing, unparseable or inconsistent (names the file)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- model contract


class ColumnSpec(_Strict):
    """One declared column: its role in the model and its type (never guessed)."""

    name: str
    role: ColumnRole
    type: ColumnType
    description: str = ""


class SourceSpec(_Strict):
    """Where production (and reference) rows come from."""

    kind: Literal["file", "decision_log"] = "file"
    path: str | None = None
    format: Literal["csv", "parquet"] | None = None
    # pandas ``DataFrame.query`` expressions applied to every row before anything else
    # (e.g. ProPublica's COMPAS filter). Declarative, so no code per model.
    filters: list[str] = Field(default_factory=list)
    # Read CSV values that look like this as missing.
    na_values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _file_needs_path(self) -> SourceSpec:
        if self.kind == "file" and not self.path:
            raise ValueError("source.kind 'file' needs source.path")
        return self

    @property
    def resolved_format(self) -> str:
        if self.format:
            return self.format
        suffix = Path(self.path or "").suffix.lower()
        return "parquet" if suffix in {".parquet", ".pq"} else "csv"


class PartitioningSpec(_Strict):
    """Daily partitions from ``start`` to ``end`` (both inclusive), each over a trailing window."""

    kind: Literal["daily"] = "daily"
    start: dt.date
    end: dt.date
    window_days: int = Field(default=1, ge=1, le=366)

    @model_validator(mode="after")
    def _ordered(self) -> PartitioningSpec:
        if self.end < self.start:
            raise ValueError(f"partitioning.end {self.end} is before partitioning.start {self.start}")
        return self


class WindowSpec(_Strict):
    """An inclusive date window."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        if self.end < self.start:
            raise ValueError(f"window end {self.end} is before its start {self.start}")
        return self


class PredictionRule(_Strict):
    """Derive the boolean prediction from a column: positive when the value is in ``positive``."""

    column: str
    positive: list[Any]


class ModelSpec(_Strict):
    """The deployed model: either scores already present in the data (``external``) or a
    baseline classifier that the pipeline trains reproducibly on the reference window."""

    kind: Literal["external", "trained"]
    version: str
    # external: the score column and how the prediction is derived
    score_column: str | None = None
    prediction_rule: PredictionRule | None = None
    # trained: a seeded gradient-boosted classifier on the declared features
    estimator: Literal["gradient_boosting"] = "gradient_boosting"
    seed: int = 0
    threshold: float = Field(default=0.5, gt=0, lt=1)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> ModelSpec:
        if self.kind == "external" and not self.score_column:
            raise ValueError("model.kind 'external' needs model.score_column")
        return self


class ValidationSpec(_Strict):
    """Per-model validation bounds (defaults in policy.yaml ``validation``)."""

    min_rows: int | None = None
    max_rows: int | None = None
    max_null_rate: dict[str, float] = Field(default_factory=dict)


class ModelConfig(_Strict):
    """Everything the pipeline knows about one monitored model (``config/models/<name>.yaml``)."""

    name: str
    description: str
    risk_level: RiskLevel
    source: SourceSpec
    time_column: str
    partitioning: PartitioningSpec
    reference: WindowSpec
    model: ModelSpec
    schema_: list[ColumnSpec] = Field(alias="schema")
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    min_group_size: int | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError(f"model name {value!r} must be lower-case letters, digits and '_'")
        return value

    @model_validator(mode="after")
    def _schema_consistent(self) -> ModelConfig:
        names = [c.name for c in self.schema_]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"schema declares these columns twice: {dupes}")
        roles = {c.role for c in self.schema_}
        for needed in ("score", "prediction", "label", "timestamp"):
            if needed not in roles:
                raise ValueError(f"schema needs a column with role '{needed}'")
        if not any(c.role == "feature" for c in self.schema_):
            raise ValueError("schema needs at least one column with role 'feature'")
        ts = [c.name for c in self.schema_ if c.role == "timestamp"]
        if self.time_column not in ts:
            raise ValueError(f"time_column {self.time_column!r} must be the schema's timestamp column {ts}")
        return self

    # Convenience views --------------------------------------------------------------
    def columns(self, *roles: str) -> list[ColumnSpec]:
        return [c for c in self.schema_ if c.role in roles]

    def column(self, name: str) -> ColumnSpec:
        for c in self.schema_:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def feature_columns(self) -> list[str]:
        return [c.name for c in self.columns("feature")]

    @property
    def monitored_columns(self) -> list[ColumnSpec]:
        """Columns whose distribution is tested for data drift: features and protected attributes."""
        return self.columns("feature", "protected")

    @property
    def score_column(self) -> str:
        return self.columns("score")[0].name

    @property
    def prediction_column(self) -> str:
        return self.columns("prediction")[0].name

    @property
    def label_column(self) -> str:
        return self.columns("label")[0].name

    @property
    def protected_columns(self) -> list[str]:
        return [c.name for c in self.columns("protected")]

    @property
    def id_column(self) -> str | None:
        ids = self.columns("id")
        return ids[0].name if ids else None

    def schema_types(self, columns: list[ColumnSpec] | None = None) -> dict[str, str]:
        return {c.name: c.type for c in (columns if columns is not None else self.schema_)}


# --------------------------------------------------------------------------- severity policy

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_CONDITION = re.compile(r"^\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


class Condition(_Strict):
    """A threshold written as in the policy file, e.g. ``">= 0.25"`` or ``"< 0.80"``."""

    op: Literal[">", ">=", "<", "<="]
    value: float

    @classmethod
    def parse(cls, text: str | float) -> Condition:
        match = _CONDITION.match(str(text))
        if not match:
            raise ValueError(f"threshold {text!r} must look like '>= 0.25' or '< 0.80'")
        return cls(op=match.group(1), value=float(match.group(2)))

    def holds(self, value: float) -> bool:
        return bool(_OPS[self.op](value, self.value))

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


class Band(_Strict):
    """WARNING and CRITICAL conditions of one metric; anything else is INFO."""

    warning: Condition
    critical: Condition

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: Condition.parse(v) if isinstance(v, (str, int, float)) else v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _same_direction(self) -> Band:
        up = {">", ">="}
        if (self.warning.op in up) != (self.critical.op in up):
            raise ValueError("warning and critical must point the same way (both > or both <)")
        return self

    @property
    def higher_is_worse(self) -> bool:
        return self.warning.op in {">", ">="}


class Override(_Strict):
    """A stricter (or looser) band for one metric of one feature, optionally of one model."""

    metric: str
    feature: str
    model: str | None = None
    warning: str
    critical: str

    def band(self) -> Band:
        return Band.model_validate({"warning": self.warning, "critical": self.critical})


class DataDriftSettings(_Strict):
    """How per-feature tests turn into a verdict (SPEC §3.1)."""

    alpha: float = Field(gt=0, lt=1)
    correction: Literal["bonferroni", "holm", "bh"]
    min_sample_size: int = Field(ge=1)
    psi_bins: int = Field(ge=2)
    psi_epsilon: float = Field(gt=0)
    ks_permutations: int = Field(ge=0)
    bootstrap_resamples: int = Field(ge=0)
    seed: int
    effect_size_gate: list[str]


class ValidationDefaults(_Strict):
    """Default validation bounds, used when a model file does not set its own."""

    min_rows: int = Field(ge=0)
    max_rows: int = Field(ge=1)
    null_rate_tolerance: float = Field(ge=0, le=1)
    range_tolerance: float = Field(ge=0)
    max_duplicate_id_share: float = Field(ge=0, le=1)
    min_category_share_known: float = Field(ge=0, le=1)


class CompositeSettings(_Strict):
    weights: dict[Literal["fairness", "data", "model", "explanation"], float]
    critical_above: float
    warning_above: float

    @field_validator("weights")
    @classmethod
    def _sum_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if abs(sum(value.values()) - 1.0) > 1e-9:
            raise ValueError(f"composite weights must sum to 1, got {sum(value.values())}")
        return value


Cadence = Literal["daily", "weekly", "biweekly", "monthly"]
Family = Literal["data", "fairness", "model", "explanation"]


class ExplanationSettings(_Strict):
    """How explanation drift is sampled (SPEC §3.4)."""

    sample_size: int = Field(ge=10)


class PrivacySettings(_Strict):
    """PII redaction before decisions are stored or rendered (SPEC §8); see ``lib/privacy.py``.

    The built-in deny terms (email, phone, name, ssn, national id, card number, password,
    token, address, dob) always apply; ``deny`` adds terms, ``allow`` exempts exact column
    names from name-based redaction (value patterns still apply to them).
    """

    deny: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    value_patterns: list[Literal["email", "phone", "card_number"]] = Field(
        default_factory=lambda: ["email", "phone", "card_number"])
    hash_key_env: str = "DRIFT_PIPELINE_DECISION_HASH_KEY"


class DecisionStreamSettings(_Strict):
    """Decision-stream checks of SPEC §7 (a window versus the model's reference window)."""

    max_category_share_change: float = Field(default=0.20, gt=0, le=1)
    max_entity_share: float = Field(default=0.30, gt=0, le=1)
    max_mean_confidence_change: float = Field(default=0.10, gt=0, le=1)
    volume_ratio_high: float = Field(default=2.0, gt=1)
    volume_ratio_low: float = Field(default=0.3, gt=0, lt=1)
    min_decisions: int = Field(default=30, ge=1)
    severity: Literal["WARNING", "CRITICAL"] = "WARNING"


class Policy(_Strict):
    """The monitoring policy (``config/policy.yaml``)."""

    bands: dict[str, dict[str, Band]]
    overrides: list[Override] = Field(default_factory=list)
    data_drift: DataDriftSettings
    validation: ValidationDefaults
    composite: CompositeSettings
    min_group_size: int = Field(ge=1)
    explanation: ExplanationSettings
    reports: dict[str, Any] = Field(default_factory=dict)
    cadence: dict[RiskLevel, dict[Family, Cadence]]
    retention_days: dict[str, int | None] = Field(default_factory=dict)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    decision_stream: DecisionStreamSettings = Field(default_factory=DecisionStreamSettings)

    def band(self, family: str, metric: str, *, feature: str | None = None, model: str | None = None) -> Band:
        """The band for ``metric``, with the most specific matching override applied."""
        for override in sorted(self.overrides, key=lambda o: o.model is None):
            if override.metric == metric and override.feature == feature and override.model in (None, model):
                return override.band()
        try:
            return self.bands[family][metric]
        except KeyError:
            raise ConfigError(f"policy.yaml has no band for {family}.{metric}") from None

    def rule_name(self, family: str, metric: str, *, feature: str | None = None, model: str | None = None) -> str:
        """Where the band that applies comes from, for alert messages."""
        for override in sorted(self.overrides, key=lambda o: o.model is None):
            if override.metric == metric and override.feature == feature and override.model in (None, model):
                scope = f"{override.model}." if override.model else ""
                return f"policy.overrides[{scope}{feature}.{metric}]"
        return f"policy.bands.{family}.{metric}"


# --------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None


def _validated(model: type[BaseModel], data: Any, path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def load_policy(config_dir: Path) -> Policy:
    """Parse ``<config_dir>/policy.yaml``."""
    path = Path(config_dir) / "policy.yaml"
    return _validated(Policy, _read_yaml(path), path)


def load_model_config(path: Path) -> ModelConfig:
    """Parse one ``config/models/<name>.yaml``; the file name must match the model name."""
    path = Path(path)
    config = _validated(ModelConfig, _read_yaml(path), path)
    if config.name != path.stem:
        raise ConfigError(f"{path}: model name {config.name!r} must match the file name {path.stem!r}")
    return config


def load_model_configs(config_dir: Path) -> dict[str, ModelConfig]:
    """Every model under ``<config_dir>/models``, by name, in a stable order."""
    models_dir = Path(config_dir) / "models"
    paths = sorted(models_dir.glob("*.yaml"))
    if not paths:
        raise ConfigError(f"{models_dir}: no model files (*.yaml) found")
    return {p.stem: load_model_config(p) for p in paths}


def config_hash(*configs: BaseModel) -> str:
    """A short, stable hash of parsed configuration (order of keys and YAML layout ignored)."""
    payload = json.dumps(
        [c.model_dump(mode="json", by_alias=True) for c in configs], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]

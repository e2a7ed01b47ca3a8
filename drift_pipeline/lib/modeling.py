"""The baseline classifier for models of kind ``trained`` and scoring of any model.

A ``trained`` model is a seeded ``HistGradientBoostingClassifier`` fitted on the reference
window's labelled rows from the declared features (categoricals ordinal-encoded with the
reference's categories; unseen categories become missing). The artifact is pickled and
versioned by its configured version plus the sha256 of its bytes, so the same data, config
and code give the same artifact hash.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.sources import DataError


def fit_categories(frame: pd.DataFrame, feature_types: dict[str, str]) -> dict[str, list[str]]:
    """Sorted category lists of the categorical / boolean features, as seen in ``frame``."""
    return {
        name: sorted(str(v) for v in frame[name].dropna().unique())
        for name, kind in feature_types.items()
        if kind in {"categorical", "boolean"}
    }


def encode_features(
    frame: pd.DataFrame, feature_types: dict[str, str], categories: dict[str, list[str]]
) -> np.ndarray:
    """A float matrix: numerics as they are, categoricals as their index in ``categories``.

    Unseen categories and missing values become NaN, which gradient boosting treats as missing.
    """
    columns = []
    for name, kind in feature_types.items():
        if kind in {"categorical", "boolean"}:
            lookup = {c: float(i) for i, c in enumerate(categories[name])}
            columns.append(frame[name].map(lambda v: lookup.get(str(v), np.nan) if pd.notna(v) else np.nan))
        else:
            columns.append(pd.to_numeric(frame[name], errors="coerce"))
    return np.column_stack([np.asarray(c, dtype="float64") for c in columns]) if columns else np.empty((len(frame), 0))


@dataclass
class TrainedModel:
    """A fitted classifier with everything needed to score new rows the same way."""

    version: str
    feature_types: dict[str, str]
    categories: dict[str, list[str]]
    estimator: HistGradientBoostingClassifier
    threshold: float
    training_rows: int
    training_auc: float
    sha256: str = field(default="")

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """P(label = True) for each row."""
        if len(frame) == 0:
            return np.empty(0)
        matrix = encode_features(frame, self.feature_types, self.categories)
        return self.estimator.predict_proba(matrix)[:, 1]

    def to_bytes(self) -> bytes:
        payload = {k: v for k, v in self.__dict__.items() if k != "sha256"}
        return pickle.dumps(payload, protocol=5)

    def save(self, directory: Path) -> Path:
        """Write ``<version>-<sha12>.pkl`` under ``directory`` (atomic) and return its path."""
        blob = self.to_bytes()
        self.sha256 = hashlib.sha256(blob).hexdigest()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.version}-{self.sha256[:12]}.pkl"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> TrainedModel:
        blob = Path(path).read_bytes()
        model = cls(**pickle.loads(blob))  # noqa: S301 - our own artifact, hash-verified below
        model.sha256 = hashlib.sha256(blob).hexdigest()
        if not Path(path).stem.endswith(model.sha256[:12]):
            raise DataError(f"model artifact {path} does not match its recorded hash")
        return model


def train_baseline_classifier(config: ModelConfig, reference: pd.DataFrame) -> TrainedModel:
    """Fit the seeded baseline classifier of a ``trained`` model on its labelled reference rows."""
    features = config.schema_types(config.columns("feature"))
    label = config.label_column
    labelled = reference.loc[reference[label].notna()]
    if labelled[label].nunique() < 2:
        raise DataError(f"{config.name}: the reference window has fewer than two label classes to train on")
    categories = fit_categories(labelled, features)
    matrix = encode_features(labelled, features, categories)
    y = labelled[label].astype(bool).to_numpy()
    categorical_mask = [kind in {"categorical", "boolean"} for kind in features.values()]
    estimator = HistGradientBoostingClassifier(
        random_state=config.model.seed, categorical_features=categorical_mask, **config.model.hyperparameters
    )
    estimator.fit(matrix, y)
    auc = float(roc_auc_score(y, estimator.predict_proba(matrix)[:, 1]))
    return TrainedModel(
        version=config.model.version,
        feature_types=features,
        categories=categories,
        estimator=estimator,
        threshold=config.model.threshold,
        training_rows=int(len(labelled)),
        training_auc=auc,
    )


def attach_predictions(config: ModelConfig, frame: pd.DataFrame, model: TrainedModel | None) -> pd.DataFrame:
    """Add the score and prediction columns of a ``trained`` model; external models already have them."""
    if config.model.kind != "trained":
        return frame
    if model is None:
        raise DataError(f"{config.name}: a trained model is needed to score its rows")
    missing = [c for c in model.feature_types if c not in frame.columns]
    if missing:
        # Leave scoring to validation: the missing-column expectation names them as CRITICAL.
        return frame.assign(**{config.score_column: np.nan, config.prediction_column: pd.NA})
    scores = model.score(frame)
    prediction = pd.array(scores >= model.threshold, dtype="boolean")
    return frame.assign(**{config.score_column: scores, config.prediction_column: prediction})

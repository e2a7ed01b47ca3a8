"""The flights baseline classifier is reproducible and scores like it was trained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drift_pipeline.lib.config import load_model_configs
from drift_pipeline.lib.modeling import TrainedModel, attach_predictions, encode_features, train_baseline_classifier
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline.lib.sources import coerce_to_schema, load_source, reference_window, rows_in_window

FLIGHTS = load_model_configs(PROJECT_ROOT / "config")["flights"]


@pytest.fixture(scope="module")
def reference():
    source = coerce_to_schema(load_source(FLIGHTS, PROJECT_ROOT), FLIGHTS)
    return rows_in_window(source, FLIGHTS.time_column, reference_window(FLIGHTS))


@pytest.fixture(scope="module")
def trained(reference):
    return train_baseline_classifier(FLIGHTS, reference)


def test_training_is_reproducible_to_the_byte(reference, trained, tmp_path):
    first = trained
    second = train_baseline_classifier(FLIGHTS, reference)
    assert first.save(tmp_path / "a").name == second.save(tmp_path / "b").name
    assert first.sha256 == second.sha256
    assert 0.7 < first.training_auc < 1.0
    loaded = TrainedModel.load(tmp_path / "a" / f"{first.version}-{first.sha256[:12]}.pkl")
    np.testing.assert_array_equal(loaded.score(reference.head(50)), first.score(reference.head(50)))


def test_predictions_follow_threshold(reference, trained):
    scored = attach_predictions(FLIGHTS, reference.head(200), trained)
    assert scored["prediction"].tolist() == (scored["score"] >= FLIGHTS.model.threshold).tolist()


def test_unseen_category_is_missing_not_an_error():
    matrix = encode_features(pd.DataFrame({"c": ["a", "zzz", None]}), {"c": "categorical"}, {"c": ["a", "b"]})
    assert matrix[0, 0] == 0 and np.isnan(matrix[1, 0]) and np.isnan(matrix[2, 0])


def test_tampered_artifact_is_refused(trained, tmp_path):
    path = trained.save(tmp_path)
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(ValueError, match="does not match its recorded hash"):
        TrainedModel.load(path)

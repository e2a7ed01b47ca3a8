"""Config parsing: the real files load, and mistakes are reported with file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drift_pipeline.lib.config import (
    Condition,
    ConfigError,
    config_hash,
    load_model_config,
    load_model_configs,
    load_policy,
)
from drift_pipeline.lib.project import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config"


def test_bundled_models_and_policy_load():
    models = load_model_configs(CONFIG)
    assert set(models) >= {"flights", "compas"}
    assert models["compas"].protected_columns == ["race", "sex"]
    assert models["compas"].partitioning.window_days == 28
    assert models["flights"].risk_level == "medium" and models["compas"].risk_level == "high"
    policy = load_policy(CONFIG)
    assert policy.composite.weights == {"fairness": 0.4, "data": 0.3, "model": 0.2, "explanation": 0.1}


@pytest.mark.parametrize(
    ("text", "op", "value"), [(">= 0.25", ">=", 0.25), ("<0.8", "<", 0.8), ("> 1e-3", ">", 0.001)]
)
def test_condition_parse(text, op, value):
    condition = Condition.parse(text)
    assert (condition.op, condition.value) == (op, value)


def test_condition_rejects_garbage():
    with pytest.raises(ValueError, match="must look like"):
        Condition.parse("about 0.2")


def test_override_applies_only_to_its_feature_and_model():
    policy = load_policy(CONFIG)
    assert policy.band("data", "psi", feature="priors_count", model="compas").warning.value == 0.08
    assert policy.band("data", "psi", feature="priors_count", model="flights").warning.value == 0.10
    assert policy.band("data", "psi", feature="age", model="compas").warning.value == 0.10
    assert policy.rule_name("data", "psi", feature="priors_count", model="compas").startswith("policy.overrides")


def _copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    return target


def test_model_error_names_file_and_field(tmp_path):
    config = _copy_config(tmp_path)
    path = config / "models" / "flights.yaml"
    path.write_text(path.read_text().replace("risk_level: medium", "risk_level: extreme"))
    with pytest.raises(ConfigError) as info:
        load_model_config(path)
    assert "flights.yaml" in str(info.value) and "risk_level" in str(info.value)


def test_unparseable_yaml_is_a_config_error(tmp_path):
    config = _copy_config(tmp_path)
    (config / "policy.yaml").write_text("bands: [unclosed")
    with pytest.raises(ConfigError, match="policy.yaml: not valid YAML"):
        load_policy(config)


def test_schema_without_label_is_rejected(tmp_path):
    config = _copy_config(tmp_path)
    path = config / "models" / "compas.yaml"
    path.write_text(path.read_text().replace("role: label", "role: feature"))
    with pytest.raises(ConfigError, match="role 'label'"):
        load_model_config(path)


def test_file_name_must_match_model_name(tmp_path):
    config = _copy_config(tmp_path)
    shutil.copy(config / "models" / "compas.yaml", config / "models" / "compas2.yaml")
    with pytest.raises(ConfigError, match="must match the file name"):
        load_model_configs(config)


def test_config_hash_is_stable_and_sensitive(tmp_path):
    policy = load_policy(CONFIG)
    model = load_model_configs(CONFIG)["flights"]
    assert config_hash(model, policy) == config_hash(load_model_configs(CONFIG)["flights"], load_policy(CONFIG))
    config = _copy_config(tmp_path)
    (config / "policy.yaml").write_text((config / "policy.yaml").read_text().replace('">= 0.25"', '">= 0.3"'))
    assert config_hash(model, load_policy(config)) != config_hash(model, policy)

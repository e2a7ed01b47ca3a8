"""Dagster definitions, autoloaded by ``drift_pipeline.definitions``: thin wrappers over ``lib``."""

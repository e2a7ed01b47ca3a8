"""drift_pipeline: Dagster-native drift, fairness and explanation monitoring with an audit trail."""

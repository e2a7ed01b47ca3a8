"""Plain-Python core of drift_pipeline: never imports dagster."""

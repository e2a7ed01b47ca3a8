"""Automation (SPEC §5–6): schedules, sensors, notifications, baseline and retention jobs."""

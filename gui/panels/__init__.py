"""Panels around the chart: progress, run metrics, per-worker sparklines and the task table."""

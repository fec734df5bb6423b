"""Measuring runs: metrics, evaluation, A/B comparison, position bias, run summaries."""

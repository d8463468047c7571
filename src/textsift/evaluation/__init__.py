"""Evaluation: metrics, calibration, plots, and the evaluate and report verbs."""

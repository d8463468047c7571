"""Serving: a model folder behind an HTTP API with micro-batching, limits, metrics and a playground page."""

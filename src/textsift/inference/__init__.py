"""Running a model folder: the predictor interface, its torch and ONNX Runtime backends, `load`, `predict` and merge."""

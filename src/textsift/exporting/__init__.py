"""Export: a torch model folder to a self-contained ONNX folder (fp32 or int8), checked for parity first."""

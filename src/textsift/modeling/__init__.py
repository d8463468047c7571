"""The model: classification heads, building one on a backbone, and the model folder with its typed settings."""

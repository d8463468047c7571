"""Training: the one loop, its checkpoints, and the strategies and verbs (train, distill) that plug into it."""

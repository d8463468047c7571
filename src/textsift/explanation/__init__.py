"""Explanations: token attributions with integrated gradients (Captum), and how they are shown."""

"""Rules that act on campaigns, pure: the model, the figures, the evaluation, the actions (docs/rules.md)."""

"""Rules that act on campaigns, pure: the model, the figures, the evaluation, the actions (docs/rules.md)."""

__all__: list[str] = []  # importers name the module (model, figures, evaluate, actions, decide)

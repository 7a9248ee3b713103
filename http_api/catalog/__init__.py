"""What an organization markets: its tracks, campaigns and audiences, and the field types they share."""

__all__: list[str] = []  # importers name the module

"""Campaign analytics: the figures, the attribution model and the series, from stored facts."""

__all__: list[str] = []  # importers name the module (campaign, track, overview, series, ...)

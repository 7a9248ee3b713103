"""The runtime core: actors, supervision, the store, logging. Knows nothing of Meta or Spotify."""

__all__: list[str] = []

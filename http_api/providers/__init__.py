"""Meta and Spotify: connecting accounts (OAuth), their routes, the listener opt-in, sync runs, and the
clients a request opens."""

__all__: list[str] = []  # importers name the module

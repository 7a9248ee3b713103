"""The console: server-rendered pages for people (sign in, overview), with browser sessions held in an
HttpOnly cookie tied to the API's session rows. The JSON API never reads that cookie."""

__all__: list[str] = []  # importers name the module

"""The core: the actor messages, pure rules and math, the provider Protocols, the store (the only SQL), the
supervisor, logging. Imports none of adapters, actors, http_api or songtrack; knows nothing of Meta or Spotify."""

__all__: list[str] = []

"""The HTTP API: a Quart-Trio app serving the SongTrackPro API reference. ``app.create_app`` builds it; the
machinery every route shares sits here (routing, validation, errors, quotas, pagination, the OpenAPI
document), and the routes sit in one folder per concern: ``auth``, ``organizations``, ``catalog``,
``providers``, ``analytics``, ``live``, ``webhooks``, ``ops``."""

__all__: list[str] = []  # importers name the module

"""Live stream events: taken in and read back over REST (``streaming``), and fed to WebSocket clients
(``ws``, with what a connection is sent in ``frames``)."""

__all__: list[str] = []  # importers name the module

"""The live stream API: the WebSocket routes (``ws``) and what a connection is sent (``frames``)."""

from http_api.live.ws import CloseCode, live_blueprint

__all__ = ["CloseCode", "live_blueprint"]

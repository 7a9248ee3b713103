"""What an organization is told when something happens: webhook endpoints and their deliveries, alerts
and notifications."""

__all__: list[str] = []  # importers name the module

"""Reading the results: analytics of campaigns, tracks, the organization and audiences, their exports,
and stream-report imports."""

__all__: list[str] = []  # importers name the module

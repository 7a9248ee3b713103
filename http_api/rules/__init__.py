"""`/v1/rules`: the organization's rules, their preview over past days, and the history of what they and
members did to campaigns (docs/rules.md)."""

__all__: list[str] = []  # importers name the module

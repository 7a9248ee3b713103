"""The caller's organization and its people: members, roles and invitations."""

__all__: list[str] = []  # importers name the module

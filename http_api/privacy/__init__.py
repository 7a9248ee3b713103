"""A person's and an organization's data as a whole (docs/privacy.md): exporting it and erasing it."""

__all__: list[str] = []  # importers name the module

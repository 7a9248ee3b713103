"""The service itself: health probes, the engine's status, and the sandbox's dev mailbox."""

__all__: list[str] = []  # importers name the module

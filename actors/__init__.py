"""Domain actors, each started into the engine's supervision tree by songtrack/runtime.py."""

from actors.housekeeping import Housekeeper

__all__ = ["Housekeeper"]

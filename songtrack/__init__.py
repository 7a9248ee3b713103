"""The composition root: the ``songtrack`` command (``cli``), the wiring of a running process (``runtime``,
``engine_process``: the engine's tree and ``songtrack engine``, ``startup``, ``keys_check``, ``accounts``: each
account actor kind and its provider, ``sandbox``, ``sandbox_demo``), its
worker processes (``workers``), signals (``shutdown``) and port errors (``ports``). It alone imports
``actors``, ``adapters`` and ``http_api`` together with ``engine``; nothing imports it but the tests and
the benches.
"""

__all__: list[str] = []

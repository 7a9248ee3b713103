"""Run the Meta simulator from a shell (the sandbox, manual checks, benchmarks in another process).

    python -m adapters.meta.simulator --port 8765 --seed 1 --speed 60
    python -m adapters.meta.simulator --config meta-sim.json   # a SimulatorConfig as JSON

It prints the bound URL on one line, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from pathlib import Path

import msgspec
import trio

from .config import SimulatorConfig
from .serve import serve_meta_simulator

__all__ = ["main"]


def _config(args: argparse.Namespace) -> SimulatorConfig:
    if args.config:
        return msgspec.json.decode(Path(args.config).read_bytes(), type=SimulatorConfig)
    return SimulatorConfig(seed=args.seed, speed=args.speed, tier=args.tier, active_ads=args.active_ads)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.meta.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--config", help="a JSON SimulatorConfig; overrides the flags below")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--tier", choices=("development_access", "standard_access"), default="development_access")
    parser.add_argument("--active-ads", type=int, default=0)
    args = parser.parse_args(argv)
    config = _config(args)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            served = await nursery.start(serve_meta_simulator, config, args.host, args.port)
            print(f"Meta simulator listening on {served.url}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the sandbox stops us
        trio.run(run)


if __name__ == "__main__":
    main()

"""``python -m adapters.spotify.simulator``: serve the simulator for the sandbox or a benchmark.

It reads an optional JSON ``SimulatorConfig`` file, lets a few flags override it, prints the bound URL
and serves until interrupted. Nothing else: no state is persisted between runs (the seed is the state).
"""

from __future__ import annotations

import argparse
import contextlib
from functools import partial
from pathlib import Path

import msgspec
import trio

from adapters.spotify.simulator.config import SimulatorConfig
from adapters.spotify.simulator.serve import serve_spotify_simulator


def _config(args: argparse.Namespace) -> SimulatorConfig:
    config = msgspec.json.decode(args.config.read_bytes(), type=SimulatorConfig) if args.config else SimulatorConfig()
    overrides = {k: v for k, v in (("seed", args.seed), ("mode", args.mode), ("speed", args.speed)) if v is not None}
    return msgspec.structs.replace(config, **overrides)


async def _main(config: SimulatorConfig, host: str, port: int) -> None:
    async with trio.open_nursery() as nursery:
        url = await nursery.start(partial(serve_spotify_simulator, config, host, port))
        print(f"Spotify simulator on {url} (seed {config.seed}, {config.mode} mode, speed {config.speed})",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--config", type=Path, help="a JSON SimulatorConfig")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--mode", choices=("development", "extended"))
    parser.add_argument("--speed", type=float, help="simulated seconds per real second")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
        trio.run(_main, _config(args), args.host, args.port)


if __name__ == "__main__":
    main()

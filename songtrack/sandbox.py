"""``songtrack sandbox``, and what the sandbox's simulators are told and what a person is told about them
(here and in ``songtrack run``): the faults of ``[simulators]`` in each simulator's own terms, and the
simulated apps' credentials to give any client.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import trio

from adapters.meta import simulator as meta_simulator
from adapters.spotify import simulator as spotify_simulator
from config.sections import SimulatorSettings
from songtrack.ports import naming_port
from songtrack.shutdown import SIGNALS, Shutdown, watch_signals

__all__ = ["meta_with_faults", "sandbox_lines", "serve_sandbox", "spotify_with_faults"]


def meta_with_faults(config: meta_simulator.SimulatorConfig, sims: SimulatorSettings) -> meta_simulator.SimulatorConfig:
    """``config`` with the faults of ``sims``. A server error is one of Meta's three, in equal shares: a
    500 with code 1, a bare 503, a 500 with code 2; a throttle is code 17 (subcode 2446079)."""
    start, speed = datetime.fromisoformat(config.start).timestamp(), config.speed or 1.0
    third = sims.faults_error_rate / 3
    faults = msgspec.structs.replace(
        config.faults, latency_s=sims.faults_latency, error_500_rate=third, error_503_rate=third,
        error_2_rate=third, malformed_rate=sims.faults_malformed_rate, throttle_rate=sims.faults_throttle_rate,
        storms=tuple((start + at * speed, start + (at + length) * speed) for at, length in sims.storms()))
    return msgspec.structs.replace(config, faults=faults)


def spotify_with_faults(config: spotify_simulator.SimulatorConfig,
                        sims: SimulatorSettings) -> spotify_simulator.SimulatorConfig:
    """``config`` with the faults of ``sims``: a server error is a 500, 502 or 503; a throttle a 429 with
    Retry-After."""
    def at(seconds: float) -> datetime:  # real seconds after the start, on the simulated clock
        return config.start + timedelta(seconds=seconds * config.speed)

    faults = msgspec.structs.replace(
        config.faults, latency_s=sims.faults_latency, error_rate=sims.faults_error_rate,
        malformed_rate=sims.faults_malformed_rate, storm_rate=sims.faults_throttle_rate,
        storms=tuple((at(start), at(start + length)) for start, length in sims.storms()))
    return msgspec.structs.replace(config, faults=faults)


def sandbox_lines(meta: meta_simulator.SimulatorConfig | None, spotify: spotify_simulator.ClientApp | None,
                  sims: SimulatorSettings) -> list[str]:
    """What to tell a person about the simulators besides their URLs: the apps' credentials, the faults."""
    fault = _fault_line(sims)
    return _credential_lines(meta, spotify) + ([fault] if fault else [])


def _fault_line(sims: SimulatorSettings) -> str | None:
    """One line saying which faults are on, or None when none is."""
    parts = [f"{rate:.0%} {what}" for rate, what in ((sims.faults_error_rate, "server errors"),
                                                     (sims.faults_throttle_rate, "throttled"),
                                                     (sims.faults_malformed_rate, "malformed")) if rate]
    if sims.faults_latency:
        parts.append(f"+{sims.faults_latency:g} s latency")
    parts += [f"a storm at {start:g} s for {length:g} s" for start, length in sims.storms()]
    return f"Provider faults on: {', '.join(parts)}" if parts else None


def _credential_lines(meta: meta_simulator.SimulatorConfig | None,
                     spotify: spotify_simulator.ClientApp | None) -> list[str]:
    """The simulated apps' credentials and the redirect URIs they accept, for any OAuth client."""
    lines = []
    if meta is not None:
        lines.append(f"Meta app: app id {meta.app_id}, app secret {meta.app_secret}; its login dialog accepts"
                     f" any redirect URI; pre-issued token {meta.access_tokens[0]} (never expires)")
    if spotify is not None:
        lines.append(f"Spotify app: client id {spotify.client_id}, client secret {spotify.client_secret};"
                     f" redirect URIs {', '.join(spotify.redirect_uris)} (on 127.0.0.1 any port)")
    return lines


async def serve_sandbox(
    host: str, meta_port: int, spotify_port: int, *, seed: int, speed: float, meta_tier: str, spotify_mode: str,
    meta_accounts: int = 6, sims: SimulatorSettings | None = None,
) -> int:
    """``songtrack sandbox``: the Meta and Spotify simulators, for a person with curl, any provider SDK or a
    benchmark, until SIGINT/SIGTERM. Same seed, same world (and same faults: those of ``sims``), with
    ``meta_accounts`` ad accounts; the simulated worlds start at the real present, as under ``songtrack run``,
    so an engine on the real clock asks for the days they have."""
    sims, now = sims or SimulatorSettings(), datetime.now(UTC)
    meta_config = meta_with_faults(meta_simulator.SimulatorConfig(
        seed=seed, speed=speed, tier=meta_tier, accounts=meta_accounts,  # type: ignore[arg-type]
        start=now.isoformat()), sims)
    spotify_config = spotify_with_faults(spotify_simulator.SimulatorConfig(
        seed=seed, speed=speed, mode=spotify_mode, start=now), sims)  # type: ignore[arg-type]
    shutdown = Shutdown()
    with trio.open_signal_receiver(*SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_signals, signals, shutdown, nursery.cancel_scope, 5.0)
            with naming_port("the Meta simulator", host, meta_port, "--meta-port"):
                meta = await nursery.start(meta_simulator.serve_meta_simulator, meta_config, host, meta_port)
            with naming_port("the Spotify simulator", host, spotify_port, "--spotify-port"):
                spotify = await nursery.start(spotify_simulator.serve_spotify_simulator, spotify_config, host,
                                              spotify_port)
            print(f"Meta simulator on {meta.url}/v25.0 ({meta_tier}, token {meta_config.access_tokens[0]})\n"
                  f"Spotify simulator on {spotify}/v1 (accounts at {spotify}/authorize, {spotify_mode} mode)\n"
                  f"seed {seed}, {speed:g} simulated seconds per second", flush=True)
            for line in sandbox_lines(meta_config, spotify_config.clients[0], sims):
                print(line, flush=True)
            await shutdown.wait()
            nursery.cancel_scope.cancel()
    return 0

"""Our stdio server with a scripted oumi.launcher (tests/launcher_support.FakeLauncher).

Used by bench/cloud_jobs.py to measure cloud-job behaviour over real stdio against
clouds that hang or are slow, which paid clouds cannot be made to do on demand:

    .venv/bin/python bench/fake_launcher_server.py --cloud gcp:30 --cloud aws --cloud local

Each ``--cloud NAME[:SECONDS]`` adds a cloud whose status calls take SECONDS (default 0);
every cloud holds ``--jobs`` running jobs (ids 1..N on cluster ``NAME-cluster``). Settings
come from the environment as for the real server (OUMI_MCP_STATE_DIR,
OUMI_MCP_CLOUD_STATUS_TIMEOUT_S, OUMI_MCP_LIST_CACHE_S, ...); start-up is the CLI's own
stdio path (oumi_mcp_server.cli), with the fake injected through Services.create.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cloud(spec: str) -> tuple[str, float]:
    name, _, seconds = spec.partition(":")
    if not name:
        raise argparse.ArgumentTypeError(f"bad cloud spec {spec!r}: want NAME[:SECONDS]")
    return name, float(seconds or 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cloud", type=_cloud, action="append", default=[])
    parser.add_argument("--jobs", type=int, default=1, help="running jobs per cloud")
    args = parser.parse_args()

    # The same order as oumi_mcp_server.cli._serve: claim the protocol streams first,
    # with garbage collection paused until the server is built.
    gc.disable()
    from oumi_mcp_server.protocol_stdio import claim_protocol_streams

    streams = claim_protocol_streams()

    from oumi_mcp_server.cli import _configure_logging
    from oumi_mcp_server.server.app import build_server
    from oumi_mcp_server.server.runner import run_stdio
    from oumi_mcp_server.services import Services
    from oumi_mcp_server.settings import Settings, strip_overriding_env
    from tests.launcher_support import FakeCloud, FakeLauncher

    clouds: list[tuple[str, float]] = args.cloud or [("gcp", 0.0), ("aws", 0.0), ("local", 0.0)]
    fake = FakeLauncher({name: FakeCloud(hang_s=seconds) for name, seconds in clouds})
    for name, _ in clouds:
        for index in range(1, args.jobs + 1):
            fake.add_job(name, f"{name}-cluster", str(index), f"bench-{name}-{index}", "RUNNING")

    settings = Settings.from_env()
    _configure_logging(settings.log_level)
    strip_overriding_env()
    server = build_server(services=Services.create(settings, launcher=fake))
    gc.freeze()
    gc.enable()
    run_stdio(server, streams)
    return 0


if __name__ == "__main__":
    sys.exit(main())

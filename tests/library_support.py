"""Helpers for the config library tests: small libraries, archives, fake providers."""

from __future__ import annotations

import io
import json
import shutil
import sys
import tarfile
import threading
import time
from pathlib import Path

from oumi_mcp_server.errors import LibrarySyncError
from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.settings import Settings
from tests.conftest import LIBRARY_DIR

# A handful of real recipes, enough to search and classify.
SAMPLE = (
    "recipes/llama3_1/sft/8b_lora/train.yaml",
    "recipes/llama3_1/sft/8b_lora/gcp_job.yaml",
    "recipes/llama3_1/sft/8b_qlora/train.yaml",
    "recipes/phi3/dpo/train.yaml",
    "recipes/qwen3/sft/0.6b_full/train.yaml",
    "recipes/qwen3/evaluation/8b_eval.yaml",
    "examples/grpo_verl_countdown/train.yaml",
    "apis/openai/infer_gpt_4o.yaml",
)


def copy_sample(dest: Path, paths: tuple[str, ...] = SAMPLE) -> Path:
    for rel in paths:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LIBRARY_DIR / rel, target)
    return dest


def make_archive(path: Path, files: dict[str, str], top: str = "oumi-9.9") -> Path:
    """A source-archive look-alike: ``<top>/configs/<rel>`` for every file, plus noise."""
    with tarfile.open(path, "w:gz") as tar:
        members = {f"{top}/configs/{rel}": text for rel, text in files.items()}
        members[f"{top}/README.md"] = "not a config"
        members[f"{top}/src/experimental/configs/x.yaml"] = "outside: configs/"
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def library_files(count: int, tag: str) -> dict[str, str]:
    return {
        f"recipes/fam{i % 7}/sft/{i}b_lora/train.yaml": f"# {tag} config {i}\nmodel: {{}}\n"
        for i in range(count)
    }


class LocalArchive:
    """A provider that 'downloads' a local archive, optionally slowly, and logs each fetch."""

    name = "local archive"

    def __init__(
        self,
        archive: Path,
        *,
        delay_s: float = 0.0,
        log: Path | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self.archive, self.delay_s, self.log, self.gate = archive, delay_s, log, gate
        self.fetches = 0

    def fetch(self, version: str, dest_dir: Path, timeout_s: float) -> tuple[Path, str]:
        self.fetches += 1
        if self.log is not None:
            with self.log.open("a") as handle:
                handle.write(f"fetch {version}\n")
        if self.gate is not None:
            self.gate.wait(timeout_s)
        time.sleep(self.delay_s)
        target = dest_dir / self.archive.name
        shutil.copyfile(self.archive, target)
        return target, f"local {self.archive.name}"


class Offline:
    """A provider that fails the way an offline machine does."""

    def __init__(self, name: str = "PyPI sdist") -> None:
        self.name = name

    def fetch(self, version: str, dest_dir: Path, timeout_s: float) -> tuple[Path, str]:
        raise LibrarySyncError("network is unreachable")


def library_settings(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "log_level": "INFO",
        "state_dir": tmp_path / "state",
        "cache_dir": tmp_path / "cache",
        "configs_dir": None,
        "library_wait_s": 10.0,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def service_for(root: Path, tmp_path: Path, **changes: object) -> LibraryService:
    return LibraryService(library_settings(tmp_path, configs_dir=root, **changes))


def sync_main() -> None:
    """Entry point of the sync subprocesses: argv[1] is a JSON job description."""
    from oumi_mcp_server.library.sync import sync_library

    job = json.loads(sys.argv[1])
    provider = LocalArchive(
        Path(job["archive"]),
        delay_s=job.get("delay_s", 0.0),
        log=Path(job["log"]) if job.get("log") else None,
        gate=threading.Event() if job.get("block") else None,
    )
    result = sync_library(
        Path(job["cache_dir"]),
        job["version"],
        providers=[provider],
        timeout_s=job.get("timeout_s", 60.0),
        force=job.get("force", False),
    )
    print(json.dumps({"fresh": result.fresh, "count": result.count}), flush=True)

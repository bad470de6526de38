"""Everything the checks share: the resolved files, the config kind, the target."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oumi_mcp_server.paths import expand_user_path, require_inside
from oumi_mcp_server.validation.documents import ConfigDocument, read_project_config
from oumi_mcp_server.validation.kinds import KindChoice, choose_kind

LOCAL = "local"
# oumi.launcher's own "local" cloud runs on this machine: paths behave as locally.
LOCAL_TARGETS = frozenset({"", LOCAL})


@dataclass(frozen=True)
class PreflightContext:
    client_cwd: Path
    document: ConfigDocument
    kind: KindChoice
    target: str  # "local" or a cloud name
    envs: dict[str, str] = field(default_factory=dict)
    cluster: str = ""  # the cluster the run goes to (Slurm: user@host), "" when not given

    @property
    def data(self) -> dict[str, Any]:
        return self.document.data

    @property
    def is_job(self) -> bool:
        return self.kind.kind.name == "job"

    @property
    def is_remote(self) -> bool:
        """True when the run happens on another machine that gets the working dir synced."""
        return self.target not in LOCAL_TARGETS

    @property
    def working_dir(self) -> Path:
        """The directory synced to the VM: the job's working_dir, else client_cwd."""
        raw = self.data.get("working_dir") if self.is_job else None
        if isinstance(raw, str) and raw.strip():
            return expand_user_path(raw, self.client_cwd)
        return self.client_cwd


def _job_cloud(data: dict[str, Any]) -> str:
    resources = data.get("resources")
    if isinstance(resources, dict) and isinstance(resources.get("cloud"), str):
        return str(resources["cloud"]).strip().lower()
    return ""


def build_context(
    config: str,
    client_cwd: str,
    cloud: str,
    task_type: str = "auto",
    *,
    envs: Mapping[str, str] | None = None,
    extra_roots: Sequence[Path] = (),
    deadline: float | None = None,
    cluster: str = "",
) -> PreflightContext:
    """Blocking: resolve and read the config. Raises OumiMcpError for unusable input."""
    cwd, document = read_project_config(config, client_cwd, extra_roots, deadline)
    return context_for(
        document, cwd, cloud, task_type, envs=envs, extra_roots=extra_roots, cluster=cluster
    )


def context_for(
    document: ConfigDocument,
    client_cwd: Path,
    cloud: str,
    task_type: str = "auto",
    *,
    envs: Mapping[str, str] | None = None,
    extra_roots: Sequence[Path] = (),
    cluster: str = "",
) -> PreflightContext:
    """The checks' context for a config already read (``client_cwd`` resolved). A job
    config's working_dir must lie in the project or ``extra_roots``: it is listed."""
    kind = choose_kind(task_type, document.data, document.path.name)
    target = cloud.strip().lower()
    if kind.kind.name == "job":
        target = target or _job_cloud(document.data) or LOCAL
    config_envs = document.data.get("envs") if kind.kind.name == "job" else None
    job_envs = (
        {str(k): str(v) for k, v in config_envs.items()} if isinstance(config_envs, dict) else {}
    )
    context = PreflightContext(
        client_cwd=client_cwd,
        document=document,
        kind=kind,
        target=target or LOCAL,
        envs={**job_envs, **(envs or {})},
        cluster=cluster.strip(),
    )
    require_inside("working_dir", context.working_dir, client_cwd, extra_roots)
    return context

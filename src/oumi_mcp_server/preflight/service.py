"""pre_flight_check: run every check in parallel, each under a time limit, and report."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oumi_mcp_server.blocking import KeyedSingleFlight, run_blocking
from oumi_mcp_server.call_progress import stage
from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.errors import EngineTimeoutError
from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.preflight.cloud_check import check_cloud, env_hints
from oumi_mcp_server.preflight.context import PreflightContext, build_context, context_for
from oumi_mcp_server.preflight.models import (
    CloudReport,
    Finding,
    PreflightReport,
    SuggestedConfig,
)
from oumi_mcp_server.preflight.paths_check import (
    ExcludedFiles,
    check_paths,
    skypilot_excluded_files,
)
from oumi_mcp_server.preflight.suggestions import model_family_for, task_type_for
from oumi_mcp_server.settings import Settings
from oumi_mcp_server.validation.documents import ConfigDocument, deadline_after
from oumi_mcp_server.validation.engine import ValidateDocument, validate_document

if TYPE_CHECKING:  # the Slurm, GPU and hub checks load when a pre-flight first runs them
    from oumi_mcp_server.slurm.probe import Probe

CheckResult = dict[str, Any]
SLURM = "slurm"
# Probes a Slurm cluster (user@host) within a time limit: the real one runs ssh.
SlurmProbe = Callable[[str, float], "Probe"]

SLURM_PROBE_REUSE_S = 60.0


def _probe_over_ssh(cluster: str, timeout_s: float) -> Probe:
    from oumi_mcp_server.slurm.probe import probe_cluster

    return probe_cluster(cluster, timeout_s=timeout_s)


class PreflightService:
    def __init__(
        self,
        settings: Settings,
        *,
        cloud_checker: CloudChecker,
        library: LibraryService,
        excluded_files: ExcludedFiles = skypilot_excluded_files,
        extra_roots: Sequence[Path] = (),
        environ: Mapping[str, str] | None = None,
        slurm_probe: SlurmProbe = _probe_over_ssh,
        validate: ValidateDocument = validate_document,
    ) -> None:
        """``environ``: the server's environment as the checks see it (os.environ if None);
        ``slurm_probe``: how a Slurm cluster is probed (tests may inject a fake)."""
        self._settings = settings
        self._environ = environ
        self._slurm_probe = slurm_probe
        # Pre-flights of one launch (its config and the configs its run block calls) share
        # one ssh probe of the cluster while it is in flight.
        self._slurm_probes: KeyedSingleFlight[str, Probe] = KeyedSingleFlight()
        self._recent_probes: dict[str, tuple[float, Probe]] = {}
        self._roots = tuple(extra_roots)  # besides the project: where configs may be read
        self._cloud_checker = cloud_checker
        self._library = library
        self._excluded_files = excluded_files
        self._validate = validate

    async def check(
        self,
        config: str,
        client_cwd: str,
        cloud: str = "",
        *,
        envs: Mapping[str, str] | None = None,
        cluster: str = "",
    ) -> PreflightReport:
        """Run every check; ``envs`` are variables the job will get besides the config's;
        ``cluster``: the cluster it runs on (Slurm: user@host), checked when given."""
        started = time.monotonic()
        limit = self._settings.preflight_check_timeout_s
        ctx = await run_blocking(
            lambda: build_context(
                config,
                client_cwd,
                cloud,
                envs=envs,
                extra_roots=self._roots,
                deadline=deadline_after(limit),
                cluster=cluster,
            ),
            timeout_s=limit,
            what="Reading the config",
        )
        return await self._check_context(ctx, started, validate=True)

    async def check_document(
        self,
        document: ConfigDocument,
        client_cwd: Path,
        cloud: str,
        *,
        envs: Mapping[str, str] | None = None,
        validate: bool = True,
        cluster: str = "",
    ) -> PreflightReport:
        """Every check, on a config the caller has already read (it is not read again).

        ``validate=False`` leaves out the config check, for callers that validate
        the config strictly themselves (a launch validates against its command's class).
        """
        started = time.monotonic()
        ctx = context_for(
            document, client_cwd, cloud, envs=envs, extra_roots=self._roots, cluster=cluster
        )
        return await self._check_context(ctx, started, validate=validate)

    async def _check_context(
        self, ctx: PreflightContext, started: float, *, validate: bool
    ) -> PreflightReport:
        checks = self._checks(ctx)
        if not validate:
            del checks["config"]
        results = await self._run_all(checks, started)
        return await self._report(ctx, results)

    def _checks(
        self, ctx: PreflightContext
    ) -> dict[str, tuple[Callable[[], Awaitable[CheckResult]], float]]:
        limit = self._settings.preflight_check_timeout_s

        def blocking(
            fn: Callable[[], CheckResult], what: str, timeout_s: float = limit
        ) -> tuple[Callable[[], Awaitable[CheckResult]], float]:
            return (lambda: run_blocking(fn, timeout_s=timeout_s, what=what), timeout_s)

        checks = {
            "config": blocking(
                lambda: _config_check(ctx, self._validate),
                "Validating with oumi",
                self._settings.validation_timeout_s,
            ),
            "paths": blocking(lambda: _paths_check(ctx, self._excluded_files), "Checking paths"),
            "hf": blocking(
                lambda: _hf_check(ctx),
                "Checking Hugging Face access",
                self._settings.hf_timeout_s * 3,
            ),
        }
        if ctx.target == SLURM:
            checks[SLURM] = (lambda: self._slurm_check(ctx, limit), limit)
        elif ctx.is_remote:
            checks["cloud"] = (lambda: _cloud_check(ctx, self._cloud_checker), limit)
        else:
            checks["hardware"] = blocking(lambda: _hardware_check(ctx), "Detecting hardware")
        return checks

    async def _run_all(
        self, checks: dict[str, tuple[Callable[[], Awaitable[CheckResult]], float]], started: float
    ) -> dict[str, CheckResult]:
        async def timed(
            name: str, run: Callable[[], Awaitable[CheckResult]], limit: float
        ) -> CheckResult:
            begin = time.monotonic()
            try:
                result = await asyncio.wait_for(run(), limit)
            except (TimeoutError, EngineTimeoutError):
                result = {
                    "warnings": [
                        Finding(
                            check=name,
                            message=f"The {name} check did not finish within {limit:g} s; "
                            "not verified.",
                        )
                    ]
                }
            except Exception as exc:
                result = {
                    "warnings": [
                        Finding(
                            check=name,
                            message=f"The {name} check failed: {type(exc).__name__}: {exc}",
                        )
                    ]
                }
            result["ms"] = round((time.monotonic() - begin) * 1000, 1)
            finished.append(name)
            waiting = ", ".join(other for other in checks if other not in finished) or "nothing"
            stage(f"pre-flight: waiting for {waiting}", len(finished), len(checks))
            return result

        finished: list[str] = []
        stage(f"pre-flight: {', '.join(checks)}", 0, len(checks))

        tasks = {
            name: asyncio.ensure_future(timed(name, run, limit))
            for name, (run, limit) in checks.items()
        }
        remaining = max(
            0.1, self._settings.preflight_total_timeout_s - (time.monotonic() - started)
        )
        _, pending = await asyncio.wait(tasks.values(), timeout=remaining)
        results: dict[str, CheckResult] = {}
        for name, task in tasks.items():
            if task in pending:
                task.cancel()
                results[name] = {
                    "warnings": [
                        Finding(
                            check=name,
                            message=f"The {name} check was stopped by the overall "
                            "pre-flight time limit.",
                        )
                    ]
                }
            else:
                results[name] = task.result()
        return results

    async def _report(
        self, ctx: PreflightContext, results: dict[str, CheckResult]
    ) -> PreflightReport:
        errors = [finding for result in results.values() for finding in result.get("errors", [])]
        warnings = [
            finding for result in results.values() for finding in result.get("warnings", [])
        ]
        if ctx.is_remote:
            warnings += env_hints(ctx)
        suggested: list[SuggestedConfig] = []
        if errors:
            suggested = await self._suggestions(ctx)
        blocking = bool(errors)
        where = "locally" if not ctx.is_remote else f"on {ctx.target}"
        summary = (
            f"BLOCKED: {len(errors)} error(s) must be fixed before running {where}"
            if blocking
            else f"Ready to run {where}"
        ) + f"; {len(warnings)} warning(s)."
        return PreflightReport(
            blocking=blocking,
            config_path=str(ctx.document.path),
            kind=ctx.kind.kind.name,
            target=ctx.target,
            errors=errors,
            warnings=warnings,
            paths=results.get("paths", {}).get("rows", []),
            hf=results.get("hf", {}).get("report"),
            hardware=results.get("hardware", {}).get("report"),
            cloud_readiness=(results.get("cloud") or results.get(SLURM) or {}).get("report"),
            suggested_configs=suggested,
            timings_ms={name: result["ms"] for name, result in results.items() if "ms" in result},
            summary=summary,
        )

    async def _slurm_check(self, ctx: PreflightContext, limit: float) -> CheckResult:
        """ssh, the Slurm commands, accounting, the log dir, the partitions and GPUs asked for."""
        if not ctx.cluster:
            return _slurm_skipped()
        from oumi_mcp_server.preflight.slurm_check import invalid_cluster, judge
        from oumi_mcp_server.slurm.probe import TOTAL_TIMEOUT_S as SLURM_TIMEOUT_S
        from oumi_mcp_server.slurm.ssh import cluster_problem

        problem = cluster_problem(ctx.cluster)
        if problem:
            report, errors, warnings = invalid_cluster(ctx.cluster, problem)
        else:
            # ssh is killed before this check's own limit, so what answered is still reported.
            ssh_limit = min(SLURM_TIMEOUT_S, max(1.0, limit - 2.0))
            probe = await self._probe_slurm(ctx.cluster, ssh_limit, limit)
            environ = os.environ if self._environ is None else self._environ
            report, errors, warnings = judge(probe, ctx.data if ctx.is_job else {}, environ)
        return {"report": report, "errors": errors, "warnings": warnings}

    async def _probe_slurm(self, cluster: str, ssh_limit: float, limit: float) -> Probe:
        """A cluster's probe; a complete one is reused for a minute (a launch right after
        its dry run does not ssh again: the cluster's setup does not change that fast)."""
        recent = self._recent_probes.get(cluster)
        if recent is not None and time.monotonic() - recent[0] < SLURM_PROBE_REUSE_S:
            return recent[1]
        probe = await self._slurm_probes.run(
            cluster,
            lambda: self._slurm_probe(cluster, ssh_limit),
            timeout_s=limit,
            what=f"ssh {cluster}",
        )
        if probe.ended:
            self._recent_probes[cluster] = (time.monotonic(), probe)
        return probe

    async def _suggestions(self, ctx: PreflightContext) -> list[SuggestedConfig]:
        try:
            found = await asyncio.wait_for(
                self._library.suggest_configs(task_type_for(ctx), model_family_for(ctx), 3), 5.0
            )
        except Exception:  # the library may be unavailable; suggestions are optional
            return []
        return [SuggestedConfig(path=item.path, description=item.description) for item in found]


def _config_check(ctx: PreflightContext, validate: ValidateDocument) -> CheckResult:
    # Missing paths are judged by the paths check (local vs cloud), not repeated here.
    problems, _ = validate(ctx.kind.kind, ctx.document, ctx.client_cwd)
    errors = [
        Finding(check="config", field=p.field, message=p.message, hint=p.hint) for p in problems
    ]
    return {"errors": errors}


def _slurm_skipped() -> CheckResult:
    report = CloudReport(
        target=SLURM, uses_skypilot=False, enabled=None, note="The cluster was not checked."
    )
    warning = Finding(
        check=SLURM,
        message="The Slurm cluster checks (ssh access, the Slurm commands, accounting, the "
        "log dir, partitions and GPUs) were skipped: no cluster name was given.",
        hint="Pass cluster_name='user@host' (pre_flight_check and run_oumi_job take it) to "
        "check the cluster too.",
    )
    return {"report": report, "warnings": [warning]}


def _paths_check(ctx: PreflightContext, excluded_files: ExcludedFiles) -> CheckResult:
    rows, errors, warnings = check_paths(ctx, excluded_files)
    return {"rows": rows, "errors": errors, "warnings": warnings}


def _hf_check(ctx: PreflightContext) -> CheckResult:
    from oumi_mcp_server.preflight.hf_check import check_hf

    report, errors, warnings = check_hf(ctx)
    return {"report": report, "errors": errors, "warnings": warnings}


def _hardware_check(ctx: PreflightContext) -> CheckResult:
    from oumi_mcp_server.preflight.hardware_check import check_hardware

    report, warnings = check_hardware(ctx)
    return {"report": report, "warnings": warnings}


async def _cloud_check(ctx: PreflightContext, checker: CloudChecker) -> CheckResult:
    report, errors, warnings = await check_cloud(ctx, checker)
    return {"report": report, "errors": errors, "warnings": warnings}

"""Hugging Face: is there a token, who is it, and can it read the repos the config names?"""

from __future__ import annotations

import os
from typing import Any

from oumi_mcp_server.engines import load
from oumi_mcp_server.preflight.context import PreflightContext
from oumi_mcp_server.preflight.models import Finding, HfReport
from oumi_mcp_server.preflight.path_fields import looks_like_path, walk

CHECK = "hf"
MODEL_KEYS = ("model_name", "tokenizer_name", "processor_name")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def referenced_repos(ctx: PreflightContext) -> dict[str, str]:
    """Hub repos the config names: repo id -> 'model' or 'dataset'."""
    repos: dict[str, str] = {}
    for _, key, value in walk(ctx.data):
        if not isinstance(value, str) or value.count("/") != 1:
            continue
        kind = "model" if key in MODEL_KEYS else "dataset" if key == "dataset_name" else None
        if kind and not looks_like_path(value, ctx.client_cwd):
            repos.setdefault(value, kind)
    return repos


def check_hf(ctx: PreflightContext) -> tuple[HfReport, list[Finding], list[Finding]]:
    """(report, errors, warnings). Blocking and networked: run under a time limit."""
    huggingface_hub = load("huggingface_hub")
    token = huggingface_hub.get_token()
    repos = referenced_repos(ctx)
    report = HfReport(offline=_offline(), token_present=bool(token))
    errors: list[Finding] = []
    warnings: list[Finding] = []
    if report.offline:
        if repos:
            report.repos = dict.fromkeys(repos, "unverified")
            warnings.append(
                Finding(
                    check=CHECK,
                    message=f"Could not verify access to {', '.join(sorted(repos))}: "
                    "HF_HUB_OFFLINE is set.",
                    hint="Check access online before a cloud launch, or make sure the files "
                    "are cached.",
                )
            )
        return report, errors, warnings
    if token:
        try:
            report.user = str(huggingface_hub.whoami(token=token).get("name") or "")
        except Exception as exc:
            warnings.append(
                Finding(check=CHECK, message=f"Could not verify the Hugging Face token: {exc}")
            )
    for repo_id, repo_type in repos.items():
        report.repos[repo_id] = _access(
            huggingface_hub, repo_id, repo_type, token, ctx, errors, warnings
        )
    return report, errors, warnings


def _access(
    hub: Any,
    repo_id: str,
    repo_type: str,
    token: str | None,
    ctx: PreflightContext,
    errors: list[Finding],
    warnings: list[Finding],
) -> str:
    hub_errors = load("huggingface_hub.errors")
    gated_error, not_found_error = hub_errors.GatedRepoError, hub_errors.RepositoryNotFoundError

    try:
        hub.auth_check(repo_id, repo_type=repo_type, token=token)
    except gated_error:
        finding = Finding(
            check=CHECK,
            message=f"No access to the gated {repo_type} {repo_id}.",
            hint="Request access on its Hugging Face page and use a token of that account "
            "(HF_TOKEN).",
        )
        (errors if ctx.is_remote else warnings).append(finding)
        return "gated_no_access"
    except not_found_error:
        warnings.append(
            Finding(
                check=CHECK,
                message=f"{repo_type} {repo_id} was not found on the Hub "
                "(or is private to another account).",
                hint="Check the id; registered Oumi dataset names are not Hub ids.",
            )
        )
        return "not_found"
    except Exception as exc:
        warnings.append(Finding(check=CHECK, message=f"Could not verify {repo_id}: {exc}"))
        return "unverified"
    return "ok"

"""Secrets are never shown: what looks like a credential is masked in every answer and log.

A value is masked when its variable's name says it is a secret (HF_TOKEN,
WANDB_API_KEY, AWS_SECRET_ACCESS_KEY, DB_PASSWORD, GITHUB_PAT, ...), when the
value itself looks like a credential (a known token prefix such as ``hf_``,
``ghp_``, ``sk-`` or ``AKIA``), and a URL keeps its user but not its password.
The job itself still gets the real value: only what is shown is masked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

MASK = "***"
# A name is secret when one of its '_'-separated words ends with one of these
# (HF_TOKEN, APIKEY, DB_PASSWD), or is one of the short words (GITHUB_PAT).
SECRET_WORD_ENDINGS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "CREDENTIALS")
SECRET_WORDS = frozenset({"PAT", "PWD", "AUTH", "COOKIE"})
# Prefixes of well-known credentials (Hugging Face, GitHub, OpenAI/Anthropic/Stripe,
# AWS access keys, Slack, GitLab, Google API keys and OAuth tokens).
CREDENTIAL_PREFIXES = (
    "hf_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "AKIA",
    "ASIA",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "glpat-",
    "AIza",
    "ya29.",
)
MIN_SECRET_TAIL = 8  # characters after the prefix: "sk-" alone is not a key
_CREDENTIAL = re.compile(
    "(?<![A-Za-z0-9_.-])(?:"
    + "|".join(re.escape(prefix) for prefix in CREDENTIAL_PREFIXES)
    + f")[A-Za-z0-9_.=+/-]{{{MIN_SECRET_TAIL},512}}"
)
# Bounded repetitions keep every match attempt short (no quadratic scans of long text).
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31}://[^:/@\s]{1,256}:)([^@/\s]{1,256})(@)")
# Variables that change which code a job loads: allowed, but worth a second look.
# BASH_ENV and ENV name a file that bash and sh run before any script they start.
CODE_LOADING_NAMES = frozenset(
    {
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "PATH",
        "BASH_ENV",
        "ENV",
        "NODE_OPTIONS",
        "PERL5LIB",
        "PERL5OPT",
    }
)


def is_secret_name(name: str) -> bool:
    words = [word for word in name.upper().split("_") if word]
    return any(word.endswith(SECRET_WORD_ENDINGS) or word in SECRET_WORDS for word in words)


def looks_like_credential(value: str) -> bool:
    return bool(_CREDENTIAL.fullmatch(value.strip()))


def mask_value(name: str, value: str) -> str:
    """What may be shown of the variable ``name``'s ``value``."""
    if value and (is_secret_name(name) or looks_like_credential(value)):
        return MASK
    return mask_text(value)


def mask_env(envs: Mapping[str, object]) -> dict[str, str]:
    return {str(name): mask_value(str(name), str(value)) for name, value in envs.items()}


_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_])([A-Za-z][A-Za-z0-9_]{0,63})([\"']?\s?[=:]\s?[\"']?)([^\s'\",;]{1,512})"
)


def mask_text(text: str) -> str:
    """Free text (an error, a log line) with credentials, URL passwords and the values of
    secret-named assignments (``HF_TOKEN=...``) masked."""
    masked = _URL_PASSWORD.sub(rf"\1{MASK}\3", _CREDENTIAL.sub(MASK, text))
    return _ASSIGNMENT.sub(
        lambda found: f"{found[1]}{found[2]}{MASK}" if is_secret_name(found[1]) else found[0],
        masked,
    )


class MaskSecretsInLogs(logging.Filter):
    """A log handler filter: the message, arguments merged in, is masked before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's to report, as it is
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def code_loading_names(envs: Mapping[str, object]) -> list[str]:
    """The variables among ``envs`` that change which code a process loads."""
    return sorted(name for name in envs if name in CODE_LOADING_NAMES or name.startswith("DYLD_"))


def shown(value: object, limit: int = 80) -> str:
    """A caller's input, quoted for an error message: cut short, and the cut said."""
    text = str(value)
    if len(text) <= limit:
        return repr(mask_text(text))
    return f"{mask_text(text[:limit])!r}... ({len(text):,} characters)"

"""What looks like a secret is masked; everything else is shown as it is."""

from __future__ import annotations

import time

import pytest

from oumi_mcp_server.masking import (
    code_loading_names,
    is_secret_name,
    mask_env,
    mask_text,
    mask_value,
    shown,
)


@pytest.mark.parametrize(
    "name",
    [
        "HF_TOKEN",
        "WANDB_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "MY_PASSWD",
        "GITHUB_PAT",
        "OPENAI_APIKEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "hf_token",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)
    assert mask_value(name, "anything") == "***"


@pytest.mark.parametrize("name", ["TOKENIZERS_PARALLELISM", "WANDB_MODE", "PATH", "KEYBOARD"])
def test_ordinary_names_keep_their_values(name: str) -> None:
    assert not is_secret_name(name)
    assert mask_value(name, "false") == "false"


@pytest.mark.parametrize(
    "value",
    [
        "hf_abcdefghijklmnop",
        "ghp_0123456789abcdefghij",
        "sk-proj-abcdefgh12345678",
        "AKIAIOSFODNN7EXAMPLE",
        "github_pat_11ABCDEFG0123456789",
        "xoxb-1234567890-abcdefgh",
    ],
)
def test_credential_looking_values_are_masked_under_any_name(value: str) -> None:
    assert mask_value("SOMETHING", value) == "***"
    assert value not in mask_text(f"the token is {value}, see")


def test_urls_keep_their_user_but_not_their_password() -> None:
    assert mask_env({"DB_URL": "postgres://me:pa55@db:5432/x"}) == {
        "DB_URL": "postgres://me:***@db:5432/x"
    }
    assert mask_value("MODE", "sk-short") == "sk-short"  # a prefix alone is not a key


def test_code_loading_variables_are_named() -> None:
    assert code_loading_names({"PYTHONPATH": "/x", "LD_PRELOAD": "y", "A": "b"}) == [
        "LD_PRELOAD",
        "PYTHONPATH",
    ]
    # A file bash (BASH_ENV) or sh (ENV) runs before the script it starts.
    assert code_loading_names({"BASH_ENV": "/tmp/x", "ENV": "/tmp/y", "HOME": "/h"}) == [
        "BASH_ENV",
        "ENV",
    ]


def test_long_input_is_quoted_short_and_fast() -> None:
    started = time.monotonic()
    text = shown("x" * 20_000_000)
    assert time.monotonic() - started < 1.0
    assert len(text) < 150 and "20,000,000 characters" in text
    started = time.monotonic()
    mask_text("a" * 2_000_000 + "://")  # no quadratic scan on long text
    assert time.monotonic() - started < 5.0

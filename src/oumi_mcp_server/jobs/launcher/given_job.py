"""A user's own job config against the request: what it can take, and what it hands to oumi.

A job config runs its run block as written. The request must agree with it: a
command other than the oumi command(s) it calls is refused, naming both;
overrides are appended to its one oumi call and refused when there is none,
several, or when they name fields of the job config itself. What the request
asks but cannot change (the command where no oumi call is visible, resources)
is listed as not applied. The configs the run block passes to oumi are located
on this machine where that can be known (relative to working_dir), so they are
checked with the job config.
"""

from __future__ import annotations

import os
from pathlib import Path

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CheckedArgs
from oumi_mcp_server.jobs.catalog import COMMAND_KIND
from oumi_mcp_server.jobs.checks import JOB_KIND, NestedConfig
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.launcher.run_block import OumiCall, RunBlock, config_word
from oumi_mcp_server.paths import expand_user_path, is_inside
from oumi_mcp_server.validation.kinds import KINDS_BY_NAME

INSTEAD = (
    "Write them into the oumi command line of the run block, or pass the training/eval/"
    "infer config itself as config_path with cloud=... (a job config is then generated, "
    "with the overrides)."
)


def check_request(args: CheckedArgs, block: RunBlock) -> None:
    """Refuse what the request asks and the job config's run block cannot do."""
    _check_command(args.command, block)
    _check_overrides(args, block)


def _check_command(command: str, block: RunBlock) -> None:
    if block.calls and command not in block.commands:
        raise InvalidArgumentError(
            "command",
            f"'{command}' differs from the job config's run block, which calls "
            f"{block.describe_calls()}.",
            next_step=f"Pass command='{block.commands[0]}' (the job runs its run block as "
            f"written), or edit the run block to call `oumi {command}`.",
        )


def _check_overrides(args: CheckedArgs, block: RunBlock) -> None:
    if not args.overrides:
        return
    job_fields = KINDS_BY_NAME[JOB_KIND].fields
    own = sorted({o.key for o in args.overrides if o.key.split(".")[0].split("[")[0] in job_fields})
    if own:
        raise InvalidArgumentError(
            "overrides",
            f"{', '.join(own)} set fields of the job config itself; overrides reach only "
            "the config its run block passes to oumi.",
            next_step="Edit those fields in the job config (variables also go in envs), then "
            "call again without them.",
        )
    if not block.calls:
        hidden = (
            f" (line {block.hidden[0].line} runs a command through a shell variable, "
            "known only on the machine)"
            if block.hidden
            else ""
        )
        raise InvalidArgumentError(
            "overrides",
            f"the job config's run block calls no oumi command to pass them to{hidden}.",
            next_step=INSTEAD,
        )
    calls = len(block.calls) + len(block.hidden)
    if calls > 1:
        listed = block.describe_calls() + (
            f" and {len(block.hidden)} command(s) run through a shell variable"
            if block.hidden
            else ""
        )
        raise InvalidArgumentError(
            "overrides",
            f"the job config's run block calls oumi {calls} times ({listed}): which call "
            "they are for is not clear.",
            next_step=INSTEAD,
        )


def not_applied(args: CheckedArgs, block: RunBlock) -> list[str]:
    """The request's arguments that change nothing in what the job config runs, and why."""
    notes = []
    if not block.calls:
        through = (
            f" this server can see (line {block.hidden[0].line} runs one through a shell variable)"
            if block.hidden
            else ""
        )
        notes.append(
            f"command='{args.command}': the job config's run block calls no oumi "
            f"command{through}; the job runs the run block as written, and the command "
            "was not checked against it."
        )
    resources = args.resources
    given = [
        name
        for name, value in (
            ("accelerators", resources.accelerators),
            ("disk_size_gb", resources.disk_size_gb),
            ("use_spot", resources.use_spot),
            ("cpus", resources.cpus),
            ("memory_gb", resources.memory_gb),
            ("time_limit", resources.time_limit),
        )
        if value
    ]
    if given:
        notes.append(
            f"{', '.join(given)}: a job config's resources are used as written; set them "
            "under resources in the job config."
        )
    return notes


def nested_configs(
    block: RunBlock, working_dir: Path, cloud: str, *, has_setup: bool
) -> tuple[NestedConfig, ...]:
    """Each config the run block passes to oumi (once), located where it can be."""
    found = [
        nested_config(call, working_dir, cloud, may_be_created=has_setup) for call in block.calls
    ]
    for command in block.hidden:
        word = config_word(command.words[1:])
        found.append(
            NestedConfig(
                word.text if word is not None else "",
                "",
                None,
                working_dir,
                unchecked=f"line {command.line} runs it with {command.words[0].text}, a shell "
                "variable, so which oumi command reads it is known only on the machine",
            )
        )
    unique: dict[tuple[str, str], NestedConfig] = {}
    for item in found:
        unique.setdefault((str(item.path or item.written), item.kind), item)
    return tuple(unique.values())


def nested_config(
    call: OumiCall, working_dir: Path, cloud: str, *, may_be_created: bool
) -> NestedConfig:
    """Where the config of one oumi call is on this machine, if that can be known here:
    relative paths resolve against working_dir, where the job runs."""
    kind = COMMAND_KIND[call.command]

    def unchecked(written: str, reason: str) -> NestedConfig:
        return NestedConfig(written, kind, None, working_dir, unchecked=reason)

    if call.config is None:
        return unchecked(f"the config of {call.describe()}", "the call names none with -c")
    raw = call.config.text
    here = kind_of(cloud).runs_here  # oumi's local cloud runs on this machine, in working_dir
    if call.config.dynamic or "$" in raw:
        return unchecked(raw, "it uses a shell variable, known only where the job runs")
    if "://" in raw:
        return unchecked(raw, "oumi fetches it on the machine the job runs on")
    if not here and (raw.startswith("~") or os.path.isabs(raw)):
        return unchecked(raw, f"it is a path on the {cloud} machine, not in working_dir")
    path = expand_user_path(raw, working_dir)
    if not here and not is_inside(path, working_dir):
        return unchecked(
            raw, f"it lies outside working_dir {working_dir}, which is all that is uploaded"
        )
    return NestedConfig(raw, kind, path, working_dir, may_be_created=may_be_created)

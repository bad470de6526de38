"""The oumi commands a job config's run block calls, read without running a shell.

A run block is a shell script. To check it against a request (the command
asked for, overrides to pass on, the config it hands to oumi) we split it into
simple commands and words the way a POSIX shell does for the common forms:
quotes, backslashes, line continuations, comments, ``;`` ``&&`` ``||`` ``|``
``&``, and redirections. Each word keeps its place in the text, so overrides
are inserted right after the oumi command's last argument and everything else
(continuation lines, a trailing comment, ``| tee log``, ``2>&1``) stays as
written. A call is ``oumi <command>`` (any path ending in ``oumi``) or
``-m oumi <command>`` (``python -m``, ``oumi distributed torchrun -m``).
What the shell only knows on the machine (``$VAR``, ``$(...)``) is marked as
such, never guessed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from oumi_mcp_server.jobs.catalog import COMMAND_ALIASES, COMMAND_ARGV

_OPERATORS = ("&&", "||", ";;", "\n", ";", "&", "|", "(", ")")
_REDIRECT = re.compile(r"\d*(?:&>>|&>|>>|>&|<&|<<<|<>|>\||>|<)")
_WORD_END = frozenset(" \t\n;&|()<>")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Words that may come before a command without being it.
_PREFIXES = frozenset({"then", "else", "do", "if", "elif", "while", "until", "!", "time", "{"})
# Commands whose arguments are text, not a command to run.
_TEXT_COMMANDS = frozenset({"echo", "printf", "export", "local", "declare", "readonly", ":"})
CONFIG_FLAGS = ("-c", "--config")


@dataclass(frozen=True)
class Word:
    text: str  # the word as the shell passes it (quotes removed)
    start: int  # where it is in the run block
    end: int
    dynamic: bool = False  # holds $VAR, ${...}, $(...) or `...`: known only on the machine


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[Word, ...]  # redirections left out
    line: int  # 1-based line of its first word


@dataclass(frozen=True)
class OumiCall:
    """One ``oumi <command>`` in the run block."""

    command: str  # canonical: train, evaluate, infer, ...
    config: Word | None  # the value of -c / --config, if given
    end: int  # where its last argument ends in the run block
    line: int

    def describe(self) -> str:
        return f"`oumi {self.command}` (line {self.line})"


@dataclass(frozen=True)
class RunBlock:
    text: str
    calls: tuple[OumiCall, ...]
    # Commands run through a variable (``${RUN_COMMAND} -c train.yaml``): they may be
    # oumi, but which command they are is known only on the machine.
    hidden: tuple[SimpleCommand, ...] = ()

    @property
    def commands(self) -> list[str]:
        return sorted({call.command for call in self.calls})

    def describe_calls(self) -> str:
        return ", ".join(call.describe() for call in self.calls)

    def with_arguments(self, arguments: Sequence[str]) -> str:
        """The run block with ``arguments`` (shell-quoted) after its only oumi call."""
        if len(self.calls) != 1:
            raise ValueError("arguments can be added to exactly one oumi call")
        if not arguments:
            return self.text
        end = self.calls[0].end
        added = " ".join(shlex.quote(argument) for argument in arguments)
        return f"{self.text[:end]} {added}{self.text[end:]}"


def read_run_block(text: str) -> RunBlock:
    calls: list[OumiCall] = []
    hidden: list[SimpleCommand] = []
    for command in split_commands(text):
        call = oumi_call(command)
        if call is not None:
            calls.append(call)
        elif is_hidden_call(command):  # kept from the command word on
            hidden.append(SimpleCommand(tuple(_command_words(command.words)), command.line))
    return RunBlock(text, tuple(calls), tuple(hidden))


def oumi_call(command: SimpleCommand) -> OumiCall | None:
    words = _command_words(command.words)
    if not words or words[0].text in _TEXT_COMMANDS:
        return None
    for index, word in enumerate(words):
        if word.text == "-m" and index + 1 < len(words) and words[index + 1].text == "oumi":
            at = index + 2
        elif not word.dynamic and word.text.rsplit("/", 1)[-1] == "oumi":
            at = index + 1
        else:
            continue
        if at >= len(words):
            continue
        name = COMMAND_ALIASES.get(words[at].text, words[at].text)
        if name in COMMAND_ARGV:
            arguments = words[at + 1 :]
            return OumiCall(name, config_word(arguments), words[-1].end, command.line)
    return None


def is_hidden_call(command: SimpleCommand) -> bool:
    """A command named by a variable that is given a config (``$CMD -c f.yaml``)."""
    words = _command_words(command.words)
    return bool(words) and words[0].dynamic and config_word(words[1:]) is not None


def config_word(arguments: Sequence[Word]) -> Word | None:
    for index, word in enumerate(arguments):
        if word.text in CONFIG_FLAGS and index + 1 < len(arguments):
            return arguments[index + 1]
        for flag in CONFIG_FLAGS:
            if word.text.startswith(flag + "="):
                value = word.text[len(flag) + 1 :]
                return Word(value, word.end - len(value), word.end, word.dynamic)
    return None


def _command_words(words: Sequence[Word]) -> Sequence[Word]:
    """The words from the command on: leading keywords and VAR=value assignments skipped."""
    start = 0
    while start < len(words) and (
        words[start].text in _PREFIXES or _ASSIGNMENT.match(words[start].text)
    ):
        start += 1
    return words[start:]


def split_commands(text: str) -> list[SimpleCommand]:
    """The simple commands of a shell script, each with its words (redirections left out)."""
    commands: list[SimpleCommand] = []
    words: list[Word] = []
    redirect_target = False
    index = 0

    def close() -> None:
        nonlocal words
        if words:
            commands.append(SimpleCommand(tuple(words), text.count("\n", 0, words[0].start) + 1))
        words = []

    while index < len(text):
        char = text[index]
        if char in " \t":
            index += 1
        elif text.startswith("\\\n", index):
            index += 2
        elif char == "#":
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
        elif redirect := _REDIRECT.match(text, index):
            index = redirect.end()
            redirect_target = True
        elif operator := next((op for op in _OPERATORS if text.startswith(op, index)), None):
            close()
            index += len(operator)
        else:
            word, index = _read_word(text, index)
            if redirect_target:
                redirect_target = False  # the file of a redirection, not an argument
            else:
                words.append(word)
    close()
    return commands


def _read_word(text: str, index: int) -> tuple[Word, int]:
    start = index
    parts: list[str] = []
    dynamic = False
    while index < len(text) and text[index] not in _WORD_END:
        char = text[index]
        if char == "\\":
            if text.startswith("\\\n", index):
                index += 2
                continue
            parts.append(text[index + 1 : index + 2])
            index += 2
        elif char == "'":
            close = text.find("'", index + 1)
            close = len(text) if close < 0 else close
            parts.append(text[index + 1 : close])
            index = close + 1
        elif char == '"':
            index, quoted, expands = _double_quoted(text, index + 1)
            parts.append(quoted)
            dynamic = dynamic or expands
        elif char == "$" and text.startswith(("$(", "${"), index):
            close = _closing(text, index + 1)
            parts.append(text[index:close])
            dynamic = True
            index = close
        elif char == "`":
            close = text.find("`", index + 1)
            close = len(text) if close < 0 else close + 1
            parts.append(text[index:close])
            dynamic = True
            index = close
        else:
            dynamic = dynamic or (char == "$" and index + 1 < len(text) and text[index + 1] != " ")
            parts.append(char)
            index += 1
    return Word("".join(parts), start, index, dynamic), index


def _double_quoted(text: str, index: int) -> tuple[int, str, bool]:
    """From after an opening ``"``: the index after the closing one, the text, and
    whether it expands anything."""
    parts: list[str] = []
    dynamic = False
    while index < len(text) and text[index] != '"':
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in '$`"\\\n':
            if text[index + 1] != "\n":
                parts.append(text[index + 1])
            index += 2
            continue
        if char in "$`":
            dynamic = True
        parts.append(char)
        index += 1
    return index + 1, "".join(parts), dynamic


def _closing(text: str, index: int) -> int:
    """From an opening ``(`` or ``{``: the index after its match (or the end)."""
    opening = text[index]
    closing = ")" if opening == "(" else "}"
    depth = 0
    while index < len(text):
        if text[index] == opening:
            depth += 1
        elif text[index] == closing:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)

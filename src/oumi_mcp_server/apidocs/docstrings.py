"""Read docstrings without running them: Google-style sections, and the string
literal written under a dataclass field (which Python itself discards)."""

from __future__ import annotations

import ast
import itertools
import re

SUMMARY_MAX = 400
DOC_MAX = 1500

_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Returns|Return|Yields|Raises|Attributes)\s*:\s*$"
)
_ARG = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def summary(doc: str) -> str:
    """The first paragraph, on one line."""
    lines: list[str] = []
    for line in doc.strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)[:SUMMARY_MAX]


def sections(doc: str) -> tuple[dict[str, str], str]:
    """(argument name -> description, returns text) from a Google-style docstring."""
    args: dict[str, str] = {}
    returns: list[str] = []
    section = ""
    current = ""
    arg_indent = -1
    for raw in doc.splitlines():
        line = raw.strip()
        heading = _SECTION.match(line)
        if heading:
            section, current, arg_indent = heading.group(1), "", -1
            continue
        if not line:
            continue
        if section in ("Args", "Arguments", "Parameters", "Attributes"):
            indent = len(raw) - len(raw.lstrip())
            match = _ARG.match(line)
            if match and (arg_indent < 0 or indent == arg_indent):
                arg_indent = indent
                current = match.group(1).lstrip("*")
                args[current] = match.group(3).strip()
            elif current:
                args[current] = f"{args[current]} {line}".strip()[:SUMMARY_MAX]
        elif section in ("Returns", "Return", "Yields"):
            returns.append(line)
    return args, " ".join(returns)[:SUMMARY_MAX]


def trimmed(doc: str) -> str:
    doc = doc.strip()
    return doc if len(doc) <= DOC_MAX else doc[:DOC_MAX].rstrip() + " ..."


def field_docstrings(source: str, class_name: str) -> dict[str, str]:
    """For each annotated field of ``class_name`` in ``source``: the string under it."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return _attribute_docs(node.body)
    return {}


def _attribute_docs(body: list[ast.stmt]) -> dict[str, str]:
    docs: dict[str, str] = {}
    for statement, following in itertools.pairwise(body):
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = _dedent(following.value.value)
    return docs


def _dedent(text: str) -> str:
    import inspect

    return inspect.cleandoc(text)

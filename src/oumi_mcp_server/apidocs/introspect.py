"""Walk the installed oumi package and describe its public API.

Runs only in the build child process (see build.py): it imports every module of
oumi, and with them torch and transformers.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from oumi_mcp_server.apidocs import docstrings
from oumi_mcp_server.apidocs.model import ApiEntry, ApiIndex, ModuleInfo

ROOT = "oumi"
SIGNATURE_MAX = 500
VALUE_MAX = 200
Progress = Callable[[int, int, str], None]


def module_names(package_dir: Path, root: str = ROOT) -> list[str]:
    """Every module under the package directory, without importing any (no __main__)."""
    names = [root]
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if not all(part.isidentifier() for part in parts):
            continue  # not importable by name (oumi's folders may be namespace packages)
        if parts[-1] == "__main__":
            continue  # running it would run a program
        if parts[-1] == "__init__":
            parts = parts[:-1]
            if not parts:
                continue
        names.append(".".join((root, *parts)))
    return names


def build(version: str, progress: Progress) -> ApiIndex:
    started = time.monotonic()
    package = importlib.import_module(ROOT)
    names = module_names(Path(package.__file__ or "").parent)
    entries: list[ApiEntry] = []
    modules: list[ModuleInfo] = []
    aliases: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for done, name in enumerate(names, start=1):
        progress(done - 1, len(names), name)
        try:
            module = importlib.import_module(name)
        except BaseException as exc:
            skipped[name] = f"{type(exc).__name__}: {exc}"[:VALUE_MAX]
            continue
        found = list(_module_entries(module, aliases))
        modules.append(
            ModuleInfo(
                name=name, summary=docstrings.summary(module.__doc__ or ""), entries=len(found)
            )
        )
        entries.extend(found)
    progress(len(names), len(names), "registry")
    entries.extend(_registry_entries())
    return ApiIndex(
        oumi_version=version,
        entries=entries,
        modules=modules,
        aliases=aliases,
        skipped=skipped,
        build_seconds=round(time.monotonic() - started, 2),
        built_at=time.time(),
    )


def _module_entries(module: ModuleType, aliases: dict[str, str]) -> Iterator[ApiEntry]:
    for attribute, value in sorted(vars(module).items()):
        if attribute.startswith("_") or not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        home = getattr(value, "__module__", "") or ""
        if home != module.__name__:
            if home.startswith(f"{ROOT}."):
                aliases[f"{module.__name__}.{attribute}"] = f"{home}.{value.__qualname__}"
            continue
        if inspect.isclass(value):
            yield from _class_entries(value)
        else:
            yield _function_entry(value, "function", module.__name__)


def _class_entries(cls: type) -> Iterator[ApiEntry]:
    name = f"{cls.__module__}.{cls.__qualname__}"
    doc = inspect.getdoc(cls) or ""
    if doc == inspect.getdoc(object) or (
        issubclass(cls, enum.Enum) and doc == inspect.getdoc(enum.Enum)
    ):
        doc = ""
    is_dataclass = dataclasses.is_dataclass(cls)
    if is_dataclass and doc.startswith(f"{cls.__name__}("):
        doc = ""  # the signature dataclasses write when a class has no docstring
    args, _ = docstrings.sections(doc)
    yield ApiEntry(
        name=name,
        kind="dataclass" if is_dataclass else "class",
        module=cls.__module__,
        summary=docstrings.summary(doc),
        signature=_class_signature(cls, is_dataclass),
        doc=docstrings.trimmed(doc),
        args=args,
    )
    if is_dataclass:
        yield from _field_entries(cls, name)
    for attribute, value in sorted(vars(cls).items()):
        if attribute.startswith("_"):
            continue
        function = value.__func__ if isinstance(value, classmethod | staticmethod) else value
        if inspect.isfunction(function):
            yield _function_entry(function, "method", cls.__module__, parent=name)


def _class_signature(cls: type, is_dataclass: bool) -> str:
    if issubclass(cls, enum.Enum):
        values = ", ".join(str(member.value) for member in cls)
        return f"Enum values: {values}"[:SIGNATURE_MAX]
    if is_dataclass:
        return ""  # its fields are entries of their own
    try:
        return f"{cls.__name__}{inspect.signature(cls)}"[:SIGNATURE_MAX]
    except (TypeError, ValueError):
        return ""


def _field_entries(cls: type, parent: str) -> Iterator[ApiEntry]:
    docs = _field_docs(cls)
    for item in dataclasses.fields(cls):
        if item.name.startswith("_"):
            continue
        doc = docs.get(item.name, "")
        yield ApiEntry(
            name=f"{parent}.{item.name}",
            kind="field",
            module=cls.__module__,
            summary=docstrings.summary(doc),
            type=_annotation(item.type),
            default=_default(item),
            doc=docstrings.trimmed(doc),
            parent=parent,
        )


def _field_docs(cls: type) -> dict[str, str]:
    """Field docstrings of the class and its dataclass bases (nearest wins)."""
    docs: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if dataclasses.is_dataclass(base):
            docs.update(_source_field_docs(base))
    return docs


def _source_field_docs(cls: type) -> dict[str, str]:
    try:
        source = _source_of(inspect.getsourcefile(cls) or "")
    except TypeError:
        return {}
    return docstrings.field_docstrings(source, cls.__name__) if source else {}


@cache
def _source_of(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _annotation(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)


def _default(item: dataclasses.Field[Any]) -> str:
    if item.default is not dataclasses.MISSING:
        return _short_repr(item.default)
    if item.default_factory is not dataclasses.MISSING:
        try:
            return _short_repr(item.default_factory())
        except Exception:
            return f"{getattr(item.default_factory, '__name__', 'factory')}()"
    return "(required)"


def _short_repr(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    text = repr(value)
    return text if len(text) <= VALUE_MAX else text[:VALUE_MAX] + "..."


def _function_entry(function: Any, kind: str, module: str, parent: str = "") -> ApiEntry:
    doc = inspect.getdoc(function) or ""
    args, returns = docstrings.sections(doc)
    try:
        signature = f"{function.__name__}{inspect.signature(function)}"[:SIGNATURE_MAX]
    except (TypeError, ValueError):
        signature = ""
    name = f"{parent}.{function.__name__}" if parent else f"{module}.{function.__qualname__}"
    return ApiEntry(
        name=name,
        kind=kind,
        module=module,
        summary=docstrings.summary(doc),
        signature=signature,
        doc=docstrings.trimmed(doc),
        args=args,
        returns=returns,
        parent=parent,
    )


def _registry_entries() -> Iterator[ApiEntry]:
    """Names registered in Oumi's registry (datasets, models, clouds, judges, ...)."""
    try:
        from oumi.core.registry import REGISTRY, RegistryType
    except Exception:
        return
    for registry_type in RegistryType:
        try:
            registered = REGISTRY.get_all(registry_type)
        except Exception:
            continue
        for registered_name, value in sorted(registered.items()):
            target = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
            yield ApiEntry(
                name=f"registry.{registry_type.name.lower()}.{registered_name}",
                kind="registry",
                module="oumi.core.registry",
                summary=docstrings.summary(inspect.getdoc(value) or ""),
                signature=target.strip("."),
                parent=registry_type.name.lower(),
            )

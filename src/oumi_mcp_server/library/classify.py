"""What a config is: class, task, model, size, PEFT, datasets, cloud, description.

Everything is inferred from the parsed YAML, the file's header comment and its
path, without importing oumi. The header's ``Config class:`` line is the most
reliable signal; keys and the file name fill in for files without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from oumi_mcp_server.library.extract import (
    dataset_names,
    dig,
    first_header_line,
    header_comment,
    scalars,
)
from oumi_mcp_server.library.tokens import size_tokens, whole_atoms

CONFIG_CLASSES = {
    "TrainingConfig": "training",
    "EvaluationConfig": "evaluation",
    "AsyncEvaluationConfig": "async_evaluation",
    "InferenceConfig": "inference",
    "JobConfig": "job",
    "SynthesisConfig": "synthesis",
    "AnalyzeConfig": "analyze",
    "JudgeConfig": "judge",
    "QuantizationConfig": "quantization",
    "TuningConfig": "tuning",
}
CLASS_TASKS = {
    "evaluation": "eval",
    "async_evaluation": "eval",
    "inference": "infer",
    "synthesis": "synth",
    "analyze": "analyze",
    "judge": "judge",
    "quantization": "quantize",
    "tuning": "tune",
    "deploy": "deploy",
}
TRAINER_TASKS = {
    "TRL_DPO": "dpo",
    "TRL_KTO": "kto",
    "TRL_GRPO": "grpo",
    "VERL_GRPO": "grpo",
    "TRL_GKD": "gkd",
    "TRL_GOLD": "gold",
}
_PATH_TASKS = ("dpo", "kto", "grpo", "gkd", "gold")
RUN_COMMAND_TASKS = {
    "evaluate": "eval",
    "infer": "infer",
    "synth": "synth",
    "analyze": "analyze",
    "judge": "judge",
    "quantize": "quantize",
    "tune": "tune",
}
_CONFIG_CLASS_LINE = re.compile(r"Config class:\s*[\w.]*?\.?(\w+Config)\b")
_RUN_CONFIG = re.compile(r"(?:-c|--config)[\s=]+[\"']?(?:oumi://)?(\S+?\.ya?ml)")
_OUMI_COMMAND = re.compile(r"\boumi\s+([a-z]+)\b")
_HF_DOWNLOAD = re.compile(r"\bhf\s+download\s+([\w.-]+/[\w.-]+)")
_NAME = re.compile(r"^([a-z]+)(\d+(?:\.\d+)?)?$")
_VERSION = re.compile(r"^\d+(?:\.\d+)?$")


@dataclass
class ConfigEntry:
    """One config of the library, as the index stores it."""

    path: str
    category: str
    config_class: str
    task_type: str
    description: str
    model_name: str | None = None
    model_family: str | None = None
    size: str | None = None
    peft: str | None = None
    datasets: list[str] = field(default_factory=list)
    trainer_type: str | None = None
    cloud: str | None = None
    engine: str | None = None
    references: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)


def config_class(data: dict[str, Any], header: list[str], path: str) -> str:
    for line in header:
        match = _CONFIG_CLASS_LINE.search(line)
        if match and match.group(1) in CONFIG_CLASSES:
            return CONFIG_CLASSES[match.group(1)]
    keys = set(data)
    name = PurePosixPath(path).stem
    if "resources" in keys or ({"run", "setup"} & keys and "working_dir" in keys):
        return "job"
    if "judge_params" in keys:
        return "judge"
    if "analyzers" in keys:
        return "analyze"
    if "strategy" in keys and "inference_config" in keys:
        return "synthesis"
    if "tuning" in keys:
        return "tuning"
    if "evaluation" in keys and "checkpoints_dir" in keys:
        return "async_evaluation"
    if "training" in keys:
        return "training"
    if "tasks" in keys:
        return "evaluation"
    if "model_source" in keys and "provider" in keys:
        return "deploy"
    if "method" in keys and "model" in keys and "quantiz" in name:
        return "quantization"
    if "model" in keys and keys & {"engine", "inference_engine", "generation"}:
        return "inference"
    return "other"


def _model_name(data: dict[str, Any], cls: str) -> str | None:
    for keys in (("model", "model_name"), ("evaluation", "model", "model_name")):
        value = dig(data, *keys)
        if isinstance(value, str) and value.strip():
            return value.strip()
    value = dig(data, "inference_config", "model", "model_name")
    if isinstance(value, str) and value.strip():
        return value.strip()
    if cls == "job":
        match = _HF_DOWNLOAD.search(str(data.get("setup") or ""))
        if match:
            return match.group(1)
    return None


def family_from_path(path: str) -> str | None:
    parts = PurePosixPath(path).parts
    if len(parts) >= 3 and parts[0] == "recipes":
        if parts[1] == "vision" and len(parts) >= 4:
            return parts[2]
        return parts[1]
    return None


def family_from_model(model_name: str) -> str | None:
    """``meta-llama/Llama-3.1-8B-Instruct`` -> ``llama3_1``; ``Qwen/Qwen3-8B`` -> ``qwen3``."""
    atoms = whole_atoms(model_name.rsplit("/", 1)[-1])
    named = [
        (match.group(1), match.group(2) or (after if _VERSION.match(after) else None))
        for atom, after in zip(atoms, [*atoms[1:], ""], strict=True)
        if (match := _NAME.match(atom)) and len(match.group(1)) >= 3
    ]
    if not named:
        return None
    # The first name with a version (meta-llama-3.1 -> llama3_1), else the first name.
    name, version = next(((n, v) for n, v in named if v), named[0])
    return name + (version or "").replace(".", "_")


def _peft(data: dict[str, Any], cls: str) -> str | None:
    if cls != "training":
        return None
    training = data.get("training") if isinstance(data.get("training"), dict) else {}
    if not dig(training, "use_peft"):
        return "full"
    return "qlora" if dig(data, "peft", "q_lora") else "lora"


def _task_type(data: dict[str, Any], cls: str, path: str, trainer: str | None) -> str:
    if cls in CLASS_TASKS:
        return CLASS_TASKS[cls]
    lowered = path.lower()
    if cls == "training":
        if trainer in TRAINER_TASKS:
            return TRAINER_TASKS[trainer]
        if isinstance(dig(data, "training", "gkd"), dict):
            return "gkd"
        for task in _PATH_TASKS:
            if task in lowered:
                return task
        return "pretrain" if "pretrain" in lowered else "sft"
    if cls == "job":
        for match in _OUMI_COMMAND.finditer(str(data.get("run") or "")):
            if match.group(1) in RUN_COMMAND_TASKS:
                return RUN_COMMAND_TASKS[match.group(1)]
            if match.group(1) == "train":
                return next((t for t in _PATH_TASKS if t in lowered), "sft")
        return _task_from_path(lowered)
    return "other"


def _task_from_path(lowered: str) -> str:
    for task in _PATH_TASKS:
        if task in lowered:
            return task
    for hint, task in (("pretrain", "pretrain"), ("/sft/", "sft"), ("eval", "eval")):
        if hint in lowered:
            return task
    if "infer" in lowered:
        return "infer"
    return "job"


def _description(header: list[str], entry: ConfigEntry) -> str:
    line = first_header_line(header)
    if line:
        return line
    what = entry.config_class.replace("_", " ")
    on = f" for {entry.model_name}" if entry.model_name else ""
    return f"{what.capitalize()} config ({entry.task_type}){on}."


def classify(path: str, data: Any, text: str) -> ConfigEntry:
    """Build the index entry of one parsed config file."""
    header = header_comment(text)
    mapping: dict[str, Any] = data if isinstance(data, dict) else {}
    cls = config_class(mapping, header, path) if mapping else "other"
    trainer = dig(mapping, "training", "trainer_type")
    trainer = str(trainer).upper() if trainer else None
    if cls == "tuning" and trainer is None:
        fixed = dig(mapping, "tuning", "fixed_training_params", "trainer_type")
        trainer = str(fixed).upper() if fixed else None
    model_name = _model_name(mapping, cls)
    family = family_from_path(path) or (family_from_model(model_name) if model_name else None)
    cloud = dig(mapping, "resources", "cloud")
    engine = mapping.get("engine") or mapping.get("inference_engine")
    engine = engine or dig(mapping, "inference_config", "engine")
    entry = ConfigEntry(
        path=path,
        category=PurePosixPath(path).parts[0] if "/" in path else "",
        config_class=cls,
        task_type=_task_type(mapping, cls, path, trainer),
        description="",
        model_name=model_name,
        model_family=family,
        peft=_peft(mapping, cls),
        datasets=dataset_names(mapping, [])[:20],
        trainer_type=trainer,
        cloud=str(cloud) if cloud else None,
        engine=str(engine) if engine else None,
    )
    sizes = size_tokens(path) or (size_tokens(model_name) if model_name else [])
    entry.size = sizes[0] if sizes else None
    if cls == "job":
        run = str(mapping.get("run") or "")
        entry.references = [m.removeprefix("configs/") for m in _RUN_CONFIG.findall(run)]
    entry.description = _description(header, entry)
    content: list[str] = [line for line in header if line]
    scalars(mapping, content)
    entry.content = content
    return entry


def inherit_from_references(entries: dict[str, ConfigEntry]) -> None:
    """Job configs take task, model and PEFT from the config their ``run`` launches."""
    for entry in entries.values():
        if entry.config_class != "job":
            continue
        directory = entry.path.rpartition("/")[0]
        siblings = [f"{directory}/{name}" for name in ("train.yaml", "eval.yaml", "infer.yaml")]
        for reference in [*entry.references, *siblings]:
            target = entries.get(reference)
            if target is None or target.config_class == "job":
                continue
            if entry.task_type in ("job", "sft"):
                entry.task_type = target.task_type
            entry.model_name = entry.model_name or target.model_name
            entry.model_family = entry.model_family or target.model_family
            entry.size = entry.size or target.size
            entry.peft = entry.peft or target.peft
            entry.datasets = entry.datasets or list(target.datasets)
            break

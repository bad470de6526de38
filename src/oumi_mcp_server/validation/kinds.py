"""The kinds of Oumi config, their classes, and how to tell them apart without oumi."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.masking import shown
from oumi_mcp_server.validation.documents import shown_key


@dataclass(frozen=True)
class ConfigKind:
    name: str
    class_path: str  # "module:ClassName", imported lazily
    fields: frozenset[str]  # top-level fields of the class (Oumi 0.9)
    distinctive: frozenset[str]  # keys that point strongly at this kind
    file_hints: tuple[str, ...]  # file-name fragments typical for this kind

    @property
    def class_name(self) -> str:
        return self.class_path.rsplit(":", 1)[1]


def _kind(name: str, class_path: str, fields: str, distinctive: str, hints: str) -> ConfigKind:
    return ConfigKind(
        name=name,
        class_path=class_path,
        fields=frozenset(fields.split()),
        distinctive=frozenset(distinctive.split()),
        file_hints=tuple(hints.split()),
    )


_CONFIGS = "oumi.core.configs"
KINDS: tuple[ConfigKind, ...] = (
    _kind(
        "training",
        f"{_CONFIGS}:TrainingConfig",
        "data model training peft fsdp deepspeed",
        "training peft deepspeed",
        "train sft dpo kto grpo gkd pretrain lora qlora fft",
    ),
    _kind(
        "evaluation",
        f"{_CONFIGS}:EvaluationConfig",
        "tasks model generation inference_engine inference_remote_params run_name "
        "enable_wandb output_dir",
        "tasks inference_engine inference_remote_params",
        "eval evaluation",
    ),
    _kind(
        "inference",
        f"{_CONFIGS}:InferenceConfig",
        "model generation input_path output_path progress_path engine remote_params",
        "input_path engine remote_params progress_path",
        "infer inference",
    ),
    _kind(
        "job",
        f"{_CONFIGS}:JobConfig",
        "name user working_dir num_nodes resources envs file_mounts storage_mounts setup run",
        "resources run setup working_dir num_nodes file_mounts storage_mounts",
        "job launch",
    ),
    _kind(
        "synthesis",
        f"{_CONFIGS}:SynthesisConfig",
        "output_path strategy strategy_params environment_config environment_config_path "
        "inference_config num_samples",
        "strategy strategy_params num_samples environment_config environment_config_path",
        "synth synthesis",
    ),
    _kind(
        "analyze",
        # `oumi analyze` in 0.9 reads the typed (v2) analyze config.
        "oumi.analyze.config:TypedAnalyzeConfig",
        "eval_name parent_eval_id dataset_name dataset_path split subset sample_count "
        "output_path analyzers custom_metrics tests tokenizer_name tokenizer_kwargs "
        "generate_report report_title",
        "analyzers custom_metrics tests sample_count generate_report report_title",
        "analyze analysis",
    ),
    _kind(
        "judge",
        f"{_CONFIGS}:JudgeConfig",
        "judge_params rule_judge_params rubric_judge_params inference_config",
        "judge_params rule_judge_params rubric_judge_params",
        "judge",
    ),
    _kind(
        "quantization",
        f"{_CONFIGS}:QuantizationConfig",
        "model method output_path output_format batch_size verbose awq_group_size "
        "awq_zero_point awq_version cleanup_temp calibration_samples",
        "method output_format awq_group_size awq_zero_point awq_version calibration_samples",
        "quant quantize quantization awq gguf",
    ),
    _kind(
        "tuning",
        f"{_CONFIGS}:TuningConfig",
        "data model tuning fsdp",
        "tuning",
        "tune tuning",
    ),
    _kind(
        "async_evaluation",
        f"{_CONFIGS}:AsyncEvaluationConfig",
        "evaluation checkpoints_dir polling_interval num_retries",
        "checkpoints_dir polling_interval",
        "async",
    ),
)

KINDS_BY_NAME = {kind.name: kind for kind in KINDS}

ALIASES = {
    "train": "training",
    "sft": "training",
    "eval": "evaluation",
    "evaluate": "evaluation",
    "infer": "inference",
    "launch": "job",
    "synth": "synthesis",
    "analysis": "analyze",
    "quantize": "quantization",
    "tune": "tuning",
    "async_eval": "async_evaluation",
    "async-evaluation": "async_evaluation",
}


@dataclass(frozen=True)
class KindChoice:
    kind: ConfigKind
    inferred: bool
    reason: str


def kind_from_name(task_type: str) -> ConfigKind:
    name = ALIASES.get(task_type.strip().lower(), task_type.strip().lower())
    if name not in KINDS_BY_NAME:
        raise InvalidArgumentError(
            "task_type",
            f"{shown(task_type)} is not a config kind.",
            next_step=f"Use 'auto' or one of: {', '.join(KINDS_BY_NAME)}.",
        )
    return KINDS_BY_NAME[name]


def _score(kind: ConfigKind, keys: set[str], file_name: str) -> int:
    known = keys & kind.fields
    unknown = keys - kind.fields
    hint = any(fragment in file_name for fragment in kind.file_hints)
    return 10 * len(keys & kind.distinctive) + len(known) - 3 * len(unknown) + (5 if hint else 0)


def infer_kind(data: dict[str, Any], file_name: str) -> KindChoice:
    """Guess the config kind from its top-level keys and file name."""
    keys = {str(key) for key in data}
    name = file_name.lower()
    ranked = sorted(KINDS, key=lambda kind: _score(kind, keys, name), reverse=True)
    best = ranked[0]
    if not keys & best.fields:
        shown_keys = sorted({shown_key(key) for key in keys})
        raise InvalidArgumentError(
            "task_type",
            f"cannot tell which kind of Oumi config this is from its top-level keys "
            f"({', '.join(shown_keys)}).",
            next_step=f"Pass task_type explicitly: one of {', '.join(KINDS_BY_NAME)}.",
        )
    matched = sorted(keys & best.distinctive) or sorted(keys & best.fields)
    reason = f"inferred '{best.name}' from the keys {', '.join(matched)}"
    if any(fragment in name for fragment in best.file_hints):
        reason += " and the file name"
    return KindChoice(kind=best, inferred=True, reason=reason)


def choose_kind(task_type: str, data: dict[str, Any], file_name: str) -> KindChoice:
    if task_type.strip().lower() in ("", "auto"):
        return infer_kind(data, file_name)
    kind = kind_from_name(task_type)
    return KindChoice(kind=kind, inferred=False, reason=f"task_type '{task_type}' was given")

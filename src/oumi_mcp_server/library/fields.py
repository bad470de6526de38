"""What each config can be found by: its tokens per field, bonuses and tie-breaks."""

from __future__ import annotations

from oumi_mcp_server.library.classify import ConfigEntry
from oumi_mcp_server.library.tokens import compact, document_tokens, pieces, whole_atoms

# Field weights: a path-directory hit beats a file-name hit beats metadata beats content.
FIELD_WEIGHTS = {"dir": 10.0, "name": 7.0, "meta": 5.0, "content": 2.0}

CLASS_WORDS = {
    "training": "training train finetune",
    "evaluation": "evaluation eval evaluate benchmark",
    "async_evaluation": "evaluation eval evaluate async",
    "inference": "inference infer generate generation",
    "job": "job launch cloud",
    "synthesis": "synthesis synth synthetic generate data",
    "analyze": "analyze analysis dataset",
    "judge": "judge judges judging",
    "quantization": "quantization quantize quant",
    "tuning": "tuning tune hyperparameter hpo sweep",
    "deploy": "deploy deployment",
}
TASK_WORDS = {
    "sft": "sft supervised",
    "dpo": "dpo preference",
    "kto": "kto preference",
    "grpo": "grpo rl reinforcement",
    "gkd": "gkd distillation distill",
    "gold": "gold distillation distill",
    "pretrain": "pretrain pretraining",
}
PEFT_WORDS = {"lora": "lora peft", "qlora": "qlora peft", "full": "full fft"}


def field_tokens(entry: ConfigEntry) -> dict[str, list[str]]:
    directory, _, name = entry.path.rpartition("/")
    stem = name.rsplit(".", 1)[0]
    meta = " ".join(
        [
            CLASS_WORDS.get(entry.config_class, entry.config_class),
            entry.task_type,
            TASK_WORDS.get(entry.task_type, ""),
            PEFT_WORDS.get(entry.peft or "", ""),
            entry.model_family or "",
            entry.size or "",
            entry.trainer_type or "",
            entry.cloud or "",
            entry.engine or "",
        ]
    )
    content = " ".join([entry.description, entry.model_name or "", *entry.datasets, *entry.content])
    return {
        "dir": sorted(document_tokens(directory)),
        "name": sorted(document_tokens(stem)),
        "meta": sorted(document_tokens(meta)),
        "content": sorted(document_tokens(content)),
    }


# Tie-breaks between equal scores: recipes before examples, a training config
# before the job that launches it, shorter (less specialised) paths first.
CATEGORY_RANK = {"recipes": 0, "examples": 1, "projects": 2, "apis": 3}
CLASS_RANK = {
    "training": 0,
    "evaluation": 1,
    "inference": 2,
    "job": 3,
    "async_evaluation": 4,
}


def order_key(entry: ConfigEntry) -> tuple[int, int, int, str]:
    return (
        CATEGORY_RANK.get(entry.category, 4),
        CLASS_RANK.get(entry.config_class, 5),
        len(entry.path),
        entry.path,
    )


# Extra score for a term naming the entry's model family exactly (``qwen3``), a part
# of it (``llama`` or ``3.1`` of llama3_1, ``qwen3`` of qwen3_next), or its size.
FAMILY_BONUS, FAMILY_PART_BONUS, SIZE_BONUS = 8.0, 4.0, 6.0


def bonus_tokens(entry: ConfigEntry) -> dict[str, float]:
    """Exact model-family and size tokens: a query naming them ranks the entry high."""
    bonus: dict[str, float] = {}
    if entry.model_family:
        atoms = whole_atoms(entry.model_family)
        for atom in atoms:
            for piece in [atom, *pieces(atom)]:
                bonus.setdefault(piece, FAMILY_PART_BONUS)
        bonus[compact(entry.model_family)] = FAMILY_BONUS
        if len(atoms) == 1:
            bonus[atoms[0]] = FAMILY_BONUS
    if entry.size:
        bonus[entry.size] = SIZE_BONUS
    return bonus


def model_atoms(entry: ConfigEntry) -> frozenset[str]:
    atoms: set[str] = set()
    for text in (entry.model_family, entry.model_name):
        if text:
            atoms.update(whole_atoms(text))
    if entry.size:
        atoms.add(entry.size)
    return frozenset(atoms)

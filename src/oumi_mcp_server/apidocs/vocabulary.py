"""The words docs search reads: a light stemmer that folds a word's family into one
form ('penalize', 'penalizes' and 'penalty'; 'packed' and 'packing'), the words a
question is phrased with, Oumi's short forms, and a small table of ML synonyms that
count as weaker matches than the words themselves."""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# Endings removed, longest first, when at least MIN_STEM letters stay.
_SUFFIXES = (
    ("izations", ""), ("ization", ""), ("izing", ""), ("izers", ""), ("izer", ""),
    ("ized", ""), ("izes", ""), ("ize", ""), ("ations", "at"), ("ation", "at"),
    ("tions", "t"), ("tion", "t"), ("ing", ""), ("ies", "y"), ("ed", ""),
)  # fmt: skip
MIN_STEM = 3
_DOUBLED = re.compile(r"([bdgmnprt])\1$")  # 'mapping' -> 'mapp' -> 'map'
# Irregular members of a family, mapped to the form the rules give the others.
LEMMAS = {
    "penalty": "penal",
    "penalties": "penal",
    "repetition": "repeat",
    "repetitions": "repeat",
    "repetitive": "repeat",
    "bias": "bias",
}


@functools.lru_cache(maxsize=1 << 16)
def normal(word: str) -> str:
    """One form for a word's family: 'steps' -> 'step', 'packing' and 'packed' -> 'pack',
    'penalizes' and 'penalty' -> 'penal', 'generated' and 'generation' -> 'generat'."""
    word = word.lower()
    if word in LEMMAS:
        return LEMMAS[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    # A plural's 's': 'steps', 'gpus'; not 'loss', 'analysis', 'status' or 'corpus'.
    long_us = len(word) > 4 and word.endswith("us")
    if word.endswith("s") and not word.endswith(("ss", "is", "ies")) and not long_us:
        word = word[:-1]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            if suffix == "ed" and (len(word) < 6 or word.endswith("eed")):
                continue
            word = word[: -len(suffix)] + replacement
            if suffix in ("ing", "ed"):
                word = _DOUBLED.sub(r"\1", word)
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]  # 'generate', 'generated' and 'generating' meet at 'generat'
    return word


def words(text: str) -> list[str]:
    """Normal forms of the words of a name or sentence: 'lr_scheduler_type' and
    'LoraParams' split."""
    return [normal(word) for word in _WORD.findall(text)]


def _normal_set(*raw: str) -> frozenset[str]:
    return frozenset(normal(word) for word in raw)


# Words that say nothing about what is asked for, in names, docstrings and questions.
STOP = _normal_set(
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "if", "in", "into",
    "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "use", "used",
    "uses", "when", "whether", "which", "will", "with",
    # how a question is phrased
    "what", "how", "do", "does", "can", "should", "i", "my", "me", "we", "you", "your",
    "want", "get", "gets", "several", "one", "some", "any", "there", "where",
    "only",
)  # fmt: skip

# Short forms in Oumi's names, read as the words a person would type.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    short: tuple(normal(word) for word in long)
    for short, long in {
        "lr": ("learning", "rate"),
        "attn": ("attention",),
        "dir": ("directory",),
        "num": ("number",),
        "grad": ("gradient",),
        "eval": ("evaluation",),
        "seq": ("sequence",),
        "len": ("length",),
        "init": ("initial",),
        "gpu": ("accelerator",),
        "bf16": ("bfloat16",),
        "fp16": ("float16",),
    }.items()
}

# ML vocabulary: a word (or two words side by side) a person types, and the words
# Oumi's names and docstrings use for the same thing. Weaker than the word itself.
_SYNONYMS_RAW: dict[str, tuple[str, ...]] = {
    "context window": ("max length", "sequence length"),
    "context length": ("max length", "sequence length"),
    "context size": ("max length", "sequence length"),
    "context": ("max length", "sequence"),
    "adapter": ("peft", "lora"),
    "prompt": ("input",),
    "file": ("path",),
    "checkpoint": ("save", "resume"),
    "resume": ("checkpoint",),
    "precision": ("dtype", "bf16", "fp16", "mixed precision"),
    "dtype": ("precision",),
    "half": ("fp16", "bf16"),
    "sampling": ("temperature", "top_p", "top_k"),
    "sample": ("temperature", "top_p", "top_k"),
    "randomness": ("temperature",),
    "creativity": ("temperature",),
    "quantize": ("4bit", "8bit", "bnb", "quantization"),
    "shard": ("fsdp",),
    "sharding": ("fsdp",),
    "fsdp": ("shard",),
    "accelerator": ("gpu",),
    "gpu": ("accelerator",),
    "zero": ("deepspeed",),
    "warmup": ("warm",),
    "repeat": ("repetition", "penalty"),
    "tracking": ("wandb", "tensorboard", "mlflow"),
    "experiment": ("wandb", "tensorboard", "mlflow"),
    "distributed": ("fsdp", "ddp", "deepspeed"),
    "memory": ("offload", "checkpointing"),
    "seed": ("random",),
    "many": ("number",),
    "often": ("frequency", "interval", "every", "steps"),
    "frequency": ("interval", "every", "steps"),
    "example": ("sample", "record", "row"),
    "subset": ("num samples", "max samples", "limit"),
    "cluster": ("cloud",),
    "cloud": ("cluster",),
    "truncate": ("max length",),
    "beam": ("num_beams",),
    "instances": ("nodes",),
    "machines": ("nodes",),
    "workers": ("num_workers",),
}


def _synonyms() -> dict[str, frozenset[str]]:
    """Keyed by the normal form (two words joined), each alternative in its normal
    form too (two words also joined, as names store them: 'maxlength')."""
    table: dict[str, set[str]] = {}
    for key, alternatives in _SYNONYMS_RAW.items():
        found = table.setdefault("".join(words(key)), set())
        for alternative in alternatives:
            parts = words(alternative)
            found.add("".join(parts) if len(parts) <= 2 else parts[-1])
    return {key: frozenset(found) for key, found in table.items()}


SYNONYMS = _synonyms()

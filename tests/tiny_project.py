"""A tiny, fully offline Oumi project: a 2-layer Llama, a word-level tokenizer, a chat JSONL.

``build_tiny_model(directory)`` writes the model once (cache it per test
session); ``make_tiny_project(root, model_dir)`` writes a project around it:
``data/chat.jsonl`` (60 conversations) and ``configs/train.yaml`` (TRL_SFT,
10 steps, CPU, output under ``output/``) that ``oumi train -c`` accepts.
Importing this module is cheap; transformers loads only when the model is built.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|> ' + message['content'] + ' <|end|> ' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|> ' }}{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|end|>"]
_WORDS = (
    "hi hello how are you fine thanks what is the weather today sunny rainy cold warm "
    "tell me a joke why did chicken cross road to get other side good bye see later "
    "train model data learn fast slow small tiny big number one two three four five"
)
WORDS = _WORDS.split()
TRAIN_STEPS = 10
MODEL_MARKER = "tiny-llama.done"


def _conversations(count: int = 60) -> list[dict[str, Any]]:
    rows = []
    for index in range(count):
        a, b, c = WORDS[index % len(WORDS)], WORDS[(index * 7) % len(WORDS)], WORDS[index % 5]
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"{a} {b} how are you"},
                    {"role": "assistant", "content": f"fine thanks {c} {b}"},
                ]
            }
        )
    return rows


def build_tiny_model(directory: Path) -> Path:
    """Build (once) a 2-layer, hidden-32 Llama with a word-level tokenizer into ``directory``."""
    if (directory / MODEL_MARKER).exists():
        return directory
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    directory.mkdir(parents=True, exist_ok=True)
    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        additional_special_tokens=SPECIAL_TOKENS[4:],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=128,
        pad_token_id=vocab["<pad>"],
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    (directory / MODEL_MARKER).write_text("ok\n")
    return directory


def training_config(model_dir: Path, *, max_steps: int = TRAIN_STEPS) -> dict[str, Any]:
    return {
        "model": {
            "model_name": str(model_dir),
            "tokenizer_name": str(model_dir),
            "model_max_length": 64,
            "torch_dtype_str": "float32",
            "device_map": "cpu",
            "load_pretrained_weights": True,
            "trust_remote_code": False,
        },
        "data": {
            "train": {
                "datasets": [{"dataset_name": "text_sft_jsonl", "dataset_path": "data/chat.jsonl"}]
            }
        },
        "training": {
            "trainer_type": "TRL_SFT",
            "max_steps": max_steps,
            "per_device_train_batch_size": 4,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "save_steps": 0,
            "save_final_model": True,
            "output_dir": "output/tiny",
            "enable_wandb": False,
            "enable_mlflow": False,
            "enable_tensorboard": False,
            "dataloader_num_workers": 0,
            "log_model_summary": False,
        },
    }


def make_tiny_project(
    root: Path, model_dir: Path, *, max_steps: int = TRAIN_STEPS, name: str = "train.yaml"
) -> Path:
    """Write the dataset and a training config into ``root``; return the config's path."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    with (root / "data" / "chat.jsonl").open("w") as out:
        for row in _conversations():
            out.write(json.dumps(row) + "\n")
    config = root / "configs" / name
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        yaml.safe_dump(training_config(model_dir, max_steps=max_steps), sort_keys=False)
    )
    return config

"""Small user projects in tmp dirs: configs and data files as a person would have them."""

from __future__ import annotations

from pathlib import Path

import yaml

CHAT_LINE = (
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
)


def write_yaml(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def training_config(
    dataset_path: str = "data/train.jsonl", **training: object
) -> dict[str, object]:
    return {
        "model": {"model_name": "HuggingFaceTB/SmolLM2-135M-Instruct"},
        "data": {
            "train": {
                "datasets": [{"dataset_name": "text_sft_jsonl", "dataset_path": dataset_path}]
            }
        },
        "training": {
            "trainer_type": "TRL_SFT",
            "max_steps": 2,
            "output_dir": "output/run",
            **training,
        },
    }


def make_project(root: Path) -> Path:
    """A project with a chat dataset and a training config that references it relatively."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "train.jsonl").write_text(CHAT_LINE * 3)
    write_yaml(root / "configs" / "train.yaml", training_config())
    return root

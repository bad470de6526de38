"""What the library tools return."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel

if TYPE_CHECKING:
    from oumi_mcp_server.library.classify import ConfigEntry


class LibraryStatus(AnswerModel):
    state: Literal["ready", "preparing", "unavailable"]
    source: str | None = Field(
        default=None, description="override | cache | local-checkout (where the configs come from)."
    )
    version: str | None = Field(default=None, description="Oumi version the configs belong to.")
    count: int | None = Field(default=None, description="Configs indexed.")
    path: str | None = Field(default=None, description="Library folder on the server's machine.")
    detail: str = Field(description="One line on the source, or why the library is not ready.")
    skipped_files: int = Field(default=0, description="Malformed YAML files left out.")
    index: Literal["built", "persisted"] | None = Field(
        default=None, description="Index parsed now, or loaded from the cache (unchanged library)."
    )
    next_step: str | None = None


class ConfigSummary(AnswerModel):
    path: str = Field(description="Path inside the config library (pass it to get_config).")
    description: str
    config_class: str = Field(description="training, evaluation, inference, job, synthesis, ...")
    task: str = Field(description="sft, dpo, kto, grpo, gkd, pretrain, eval, infer, synth, ...")
    model: str | None = None
    model_family: str | None = None
    size: str | None = None
    peft: str | None = Field(default=None, description="lora, qlora or full (training configs).")
    datasets: list[str] = Field(default_factory=list)
    cloud: str | None = Field(default=None, description="Target cloud of a job config.")

    @classmethod
    def of(cls, entry: ConfigEntry) -> ConfigSummary:
        return cls(
            path=entry.path,
            description=entry.description,
            config_class=entry.config_class,
            task=entry.task_type,
            model=entry.model_name,
            model_family=entry.model_family,
            size=entry.size,
            peft=entry.peft,
            datasets=entry.datasets[:5],
            cloud=entry.cloud,
        )


class SearchResult(AnswerModel):
    terms: list[str] = Field(description="The search terms after normalisation (ANDed).")
    total_matches: int
    returned: int
    matched_all_terms: bool = Field(
        description="False when no config has every term: the closest ones are shown instead."
    )
    results: list[ConfigSummary]
    message: str = Field(description="What was searched and what to do next.")
    library: str = Field(description="Library source, version and size.")


class ConfigDetail(ConfigSummary):
    trainer_type: str | None = None
    engine: str | None = None
    library_file: str = Field(
        description="Where the file lives on the server: read-only reference, never a job input."
    )
    related: list[str] = Field(
        default_factory=list, description="Other configs in the same folder (e.g. its job config)."
    )
    usage: str
    content: str | None = Field(default=None, description="Raw YAML (with include_content).")


class ConfigLookup(AnswerModel):
    found: bool
    resolved_as: str = Field(
        description="exact | partial | directory (the folder's main file) | ambiguous | missing"
    )
    config: ConfigDetail | None = None
    did_you_mean: list[ConfigSummary] = Field(default_factory=list)
    message: str


class CategoriesReport(AnswerModel):
    library: LibraryStatus
    categories: dict[str, int] = Field(description="Top-level folders: recipes, examples, ...")
    config_classes: dict[str, int]
    tasks: dict[str, int]
    model_families: dict[str, int]
    api_providers: dict[str, int] = Field(description="Hosted-model providers under apis/.")
    skipped_files: list[str] = Field(description="Malformed YAML files left out of the index.")
    hint: str

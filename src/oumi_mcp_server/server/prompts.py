"""MCP prompts for the main workflows (clients show them as slash commands), with
completions for their arguments where a list of choices helps."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import Completion, CompletionArgument, CompletionContext, PromptReference
from pydantic import Field

from oumi_mcp_server.guidance import prompts as texts
from oumi_mcp_server.services import Services

CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("fine_tune", "method"): texts.METHODS,
    ("move_to_cloud", "cloud"): texts.CLOUDS,
    ("evaluate_checkpoint", "tasks"): texts.EVAL_TASKS,
}


def register(server: MCPServer, services: Services) -> None:
    # Read-only mode lists no mutating tool: the prompts say so instead of naming them.
    note = texts.READ_ONLY_NOTE if services.settings.read_only else ""

    @server.prompt(
        title="Fine-tune a model on my data",
        description="Find a recipe, adapt it in the project, validate, pre-flight, launch, watch.",
    )
    def fine_tune(
        model: Annotated[str, Field(description="Model name or path, e.g. Qwen/Qwen3-0.6B.")],
        dataset_path: Annotated[str, Field(description="The training data (a JSONL file).")],
        method: Annotated[str, Field(description="lora, qlora or full.")] = "lora",
    ) -> str:
        return texts.fine_tune(model, dataset_path, method) + note

    @server.prompt(
        title="Evaluate a checkpoint",
        description="An evaluation config for a checkpoint, checked and launched; results read.",
    )
    def evaluate_checkpoint(
        checkpoint_path: Annotated[str, Field(description="The model dir or name to evaluate.")],
        tasks: Annotated[str, Field(description="Benchmarks, comma-separated.")] = "mmlu",
    ) -> str:
        return texts.evaluate_checkpoint(checkpoint_path, tasks) + note

    @server.prompt(
        title="Why did my job fail?",
        description="The diagnosis (root cause, evidence, fix), then the fix relaunched.",
    )
    def debug_failed_job(job_id: Annotated[str, Field(description="The job's id.")]) -> str:
        return texts.debug_failed_job(job_id, read_only=bool(note)) + note

    @server.prompt(
        title="Move my run to the cloud or a Slurm cluster",
        description="Pre-flight for the target, a dry run of the job, launch, watch, tear down.",
    )
    def move_to_cloud(
        config_path: Annotated[str, Field(description="The config in the project.")],
        cloud: Annotated[str, Field(description="slurm, gcp, aws, kubernetes, ...")] = "slurm",
        cluster_name: Annotated[str, Field(description="Slurm: user@host.")] = "",
    ) -> str:
        return texts.move_to_cloud(config_path, cloud, cluster_name) + note

    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]
    async def complete(
        ref: object, argument: CompletionArgument, context: CompletionContext | None
    ) -> Completion | None:
        if not isinstance(ref, PromptReference):
            return None
        choices = CHOICES.get((ref.name, argument.name), ())
        typed = argument.value.lower()
        values = [choice for choice in choices if choice.startswith(typed)]
        return Completion(values=values, total=len(values), has_more=False)

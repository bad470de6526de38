"""A Slurm job's newest complete checkpoint, found on the cluster (one bounded ssh call).

Each oumi.launcher submission copies the working dir to a new remote folder and runs
there, so a relative output dir moves between attempts: the job's own ``WorkDir``
(``scontrol``, else ``sacct``) says where its outputs are. A checkpoint is complete
when its trainer state is written to the end and its weights are there (the same test
as diagnosis/checkpoints.py, in sh).
"""

from __future__ import annotations

import shlex

from oumi_mcp_server.diagnosis.checkpoints import TRAINER_STATE, WEIGHT_FILES, WEIGHT_INDEXES
from oumi_mcp_server.slurm.ssh import run_remote_script

_SCRIPT = """\
wd=$(scontrol show job -o {job} 2>/dev/null | tr ' ' '\\n' | sed -n 's/^WorkDir=//p' | head -n 1)
[ -n "$wd" ] || wd=$(sacct -n -X -P -j {job} -o WorkDir 2>/dev/null | head -n 1)
[ -n "$wd" ] || exit 3
echo "workdir=$wd"
case {output} in /*) out={output} ;; *) out="$wd"/{output} ;; esac
numbers=$(ls -1 "$out" 2>/dev/null | sed -n 's/^checkpoint-\\([0-9][0-9]*\\)$/\\1/p')
for n in $(echo "$numbers" | sort -rn); do
  c="$out/checkpoint-$n"
  [ -s "$c/{state}" ] || continue
  [ "$(tail -c 64 "$c/{state}" | tr -d ' \\n\\r\\t' | tail -c 1)" = "}}" ] || continue
  ok=
  for w in {weights}; do [ -s "$c/$w" ] && ok=1; done
  for i in {indexes}; do [ -f "$c/$i" ] && ok=1; done
  ls -d "$c"/pytorch_model_fsdp_* "$c"/global_step* >/dev/null 2>&1 && ok=1
  if [ -n "$ok" ]; then echo "checkpoint=$c"; exit 0; fi
done
exit 0
"""


def remote_checkpoint_script(slurm_job_id: str, output_dir: str) -> str:
    return _SCRIPT.format(
        job=shlex.quote(slurm_job_id),
        output=shlex.quote(output_dir.rstrip("/") or "."),
        state=TRAINER_STATE,
        weights=" ".join(WEIGHT_FILES),
        indexes=" ".join(WEIGHT_INDEXES),
    )


def newest_remote_checkpoint(
    cluster: str, slurm_job_id: str, output_dir: str, *, timeout_s: float
) -> str | None:
    """The absolute path, on the cluster, of the job's newest complete checkpoint; None
    when it has none (or the cluster did not say within ``timeout_s``). Blocking."""
    if not output_dir:
        return None
    result = run_remote_script(
        cluster, remote_checkpoint_script(slurm_job_id, output_dir), timeout_s=timeout_s
    )
    if result.returncode != 0:
        return None
    for line in result.stdout.decode("utf-8", errors="replace").splitlines():
        if line.startswith("checkpoint="):
            return line.removeprefix("checkpoint=").strip() or None
    return None

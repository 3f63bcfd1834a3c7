r"""Trains AIR once per seed, evaluates every run and writes the seed table.

    python experiments/sweep.py --root=runs/sweep

For each seed s this runs `experiments/train.py --logdir=ROOT/seed_s
--seed=s` (plus `--train_flags`), then `experiments/evaluate.py` on the
final checkpoint, and writes ROOT/sweep.md (per-seed table, mean and min,
confusion matrices), ROOT/sweep.json and ROOT/curves.png (held-out count
accuracy against steps and against wall-clock minutes). Running it again
resumes unfinished seeds and re-evaluates nothing that is done.

Minutes are wall-clock time from the launch of a seed's training process
(data generation and tracing included) to the held-out evaluation that
first reached `--threshold`. For a seed that was interrupted and resumed
(marked so) the launches' times are added up, leaving out the time between
them and the work lost after each launch's last evaluation.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top
from air_tf import cli
from air_tf import metrics
from air_tf import visualisation

flags.DEFINE_string("root", "runs/sweep", "One logdir per seed goes here.")
flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Training seeds.")
flags.DEFINE_list("train_flags", [], "More flags for train.py, such as "
                  "--train_flags=--num_steps=5000,--samples_per_image=1.")
flags.DEFINE_float("threshold", 0.98, "Held-out count accuracy whose first "
                   "crossing is timed.")
flags.DEFINE_integer("eval_images", 10000, "Held-out images of the final "
                     "evaluation.")
flags.DEFINE_integer("iw_images", 500, "Images of the 100-sample IW bound.")

FLAGS = flags.FLAGS
_EXPERIMENTS = os.path.dirname(os.path.abspath(__file__))


def _run(binary: str, *args: str) -> None:
  cli.run_binary(os.path.join(_EXPERIMENTS, binary), *args,
                 on_failure="run the sweep again to resume.")


def _train(seed: int, logdir: str) -> None:
  """Trains one seed; the launch time of a run that trains goes to
  LOGDIR/launches.jsonl."""
  os.makedirs(logdir, exist_ok=True)
  with open(os.path.join(logdir, "launches.jsonl"), "a") as f:
    f.write(json.dumps({"time": time.time()}) + "\n")
  _run("train.py", f"--logdir={logdir}", f"--seed={seed}",
       *FLAGS.train_flags)


def _read_jsonl(path: str) -> list[dict]:
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def _summarise(seed: int, logdir: str) -> dict:
  """The seed's curve and final figures."""
  launches = [launch["time"] for launch in
              _read_jsonl(os.path.join(logdir, "launches.jsonl"))]
  records = _read_jsonl(os.path.join(logdir, "eval.jsonl"))
  for record, minutes in zip(records, metrics.training_minutes(
      [record["time"] for record in records], launches)):
    record["minutes"] = minutes
  reached = metrics.first_reaching(records, "count_accuracy",
                                   FLAGS.threshold)
  with open(os.path.join(logdir, "final.json")) as f:
    final = json.load(f)
  return {"seed": seed, "curve": records, "final": final,
          # Launches that trained (a launch that found the run finished
          # and only evaluated it adds no record).
          "launches": len({sum(launch <= record["time"] for launch in launches)
                           for record in records}),
          "steps_to_threshold": reached["step"] if reached else None,
          "minutes_to_threshold": reached["minutes"] if reached else None}


def _table(runs: list[dict]) -> str:
  """The markdown report of the sweep."""
  percent = lambda value: f"{100 * value:.2f}%"
  number = lambda value, form: "not reached" if value is None else (
      format(value, form))
  lines = [
      f"Sweep of `experiments/train.py {' '.join(FLAGS.train_flags)}` "
      f"over seeds {', '.join(FLAGS.seeds)}; final figures on "
      f"{FLAGS.eval_images} held-out images (IW bound: first "
      f"{FLAGS.iw_images}).", "",
      f"| seed | final count accuracy | steps to {percent(FLAGS.threshold)} "
      f"| minutes to {percent(FLAGS.threshold)} | ELBO | 100-sample IW "
      f"bound | final step |",
      "|---|---|---|---|---|---|---|"]
  for run in runs:
    final = run["final"]
    lines.append(
        f"| {run['seed']}{' (resumed)' if run['launches'] > 1 else ''} | "
        f"{percent(final['count_accuracy'])} | "
        f"{number(run['steps_to_threshold'], 'd')} | "
        f"{number(run['minutes_to_threshold'], '.1f')} | "
        f"{final['elbo']:.1f} | {final['iw_bound']:.1f} | {final['step']} |")
  accuracies = [run["final"]["count_accuracy"] for run in runs]
  minutes = [run["minutes_to_threshold"] for run in runs]
  reached = [value for value in minutes if value is not None]
  lines += [
      "", f"Final count accuracy: mean {percent(np.mean(accuracies))}, "
      f"min {percent(np.min(accuracies))}, max "
      f"{percent(np.max(accuracies))}.",
      f"Reached {percent(FLAGS.threshold)}: {len(reached)} of {len(runs)} "
      f"seeds; median minutes over all seeds "
      f"{number(np.median(minutes) if len(reached) == len(runs) else None, '.1f')}.",
      "", "Confusion matrices (rows: true count 0.., columns: inferred):", ""]
  for run in runs:
    lines.append(f"- seed {run['seed']}: `{run['final']['confusion']}`")
  return "\n".join(lines) + "\n"


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    seeds = [int(seed) for seed in FLAGS.seeds]
  except ValueError:
    cli.fail(f"--seeds takes integers, got {FLAGS.seeds}.")
  runs = []
  for seed in seeds:
    logdir = os.path.join(FLAGS.root, f"seed_{seed}")
    final_json = os.path.join(logdir, "final.json")
    if not os.path.exists(final_json):
      print(f"=== seed {seed}: training in {logdir}", flush=True)
      _train(seed, logdir)
      _run("evaluate.py", f"--logdir={logdir}", f"--json={final_json}",
           f"--num_images={FLAGS.eval_images}",
           f"--iw_images={FLAGS.iw_images}")
    runs.append(_summarise(seed, logdir))
  report = _table(runs)
  with open(os.path.join(FLAGS.root, "sweep.md"), "w") as f:
    f.write(report)
  with open(os.path.join(FLAGS.root, "sweep.json"), "w") as f:
    json.dump(runs, f, indent=1)
  visualisation.plot_curves(
      {f"seed {run['seed']}": run["curve"] for run in runs},
      os.path.join(FLAGS.root, "curves.png"), threshold=FLAGS.threshold)
  print(report, flush=True)


if __name__ == "__main__":
  app.run(main)

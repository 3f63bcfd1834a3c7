r"""Trains AIR once per seed, evaluates every run and writes the seed table.

    python experiments/sweep.py --root=runs/sweep

For each floating-point path p of `--paths` and each seed s this runs
`experiments/train.py --logdir=ROOT/p/seed_s --seed=s` (plus
`--train_flags`, then the path's flags), then evaluates its final
checkpoint as `experiments/evaluate.py` does (in this process), and
writes ROOT/sweep.md
(per-seed table with the held-out digit-size bands and Pyro's layout, mean
and min, k of n seeds at or above `--threshold`, seeds x paths, confusion
matrices), ROOT/sweep.json and
ROOT/curves.png (held-out count accuracy against steps and against
wall-clock minutes). Running it again resumes unfinished seeds and
re-evaluates nothing that is done.

A floating-point path is a way of computing the same training that rounds
differently, as another CPU does: "xla" (the default: the XLA-compiled
step, `--jit_compile`), "no_xla" (TensorFlow's own kernels,
`--nojit_compile`: 1.2-1.8x slower for AIR; its losses differ from
XLA's within the first 10 steps),
and two variants of it, each training in an environment that can change
how TensorFlow's kernels round: "no_xla_onednn_off"
(TF_ENABLE_ONEDNN_OPTS=0: without oneDNN's kernels; on the Intel Xeon
with AMX its losses differ from no_xla's within the first 20 steps, the
default's and the convolutional reader's) and "no_xla_1_thread"
(TF_NUM_INTRAOP_THREADS=1: one thread per kernel; there it changed the
convolutional reader's losses by step 200, not the default's in 300
steps). Under XLA neither variable changed the losses on the machines
tried, nor did XLA_FLAGS=--xla_cpu_max_isa=AVX2 (docs/RESULTS.md). The
variables are the training's; the final evaluation runs in this
process's environment. Each launch records them (`launches.jsonl`).
Which seeds fail in a reproduction depends on the path, so a success
rate is only believable over more than one.

Minutes are wall-clock time from the launch of a seed's training process
(data generation and tracing included) to the held-out evaluation that
first reached `--threshold`. For a seed that was interrupted and resumed
(marked so) the launches' times are added up, leaving out the time between
them and the work lost after each launch's last evaluation.
"""

import json
import os

from absl import app
from absl import flags
import numpy as np

from air_tf import cli
from air_tf import evaluation
from air_tf import files
from air_tf import logdir as logdir_lib
from air_tf import metrics
from air_tf import visualisation

# train.py's flags and environment of each floating-point path.
PATHS = {
    "xla": (("--jit_compile",), {}),
    "no_xla": (("--nojit_compile",), {}),
    "no_xla_onednn_off": (("--nojit_compile",),
                          {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "no_xla_1_thread": (("--nojit_compile",),
                        {"TF_NUM_INTRAOP_THREADS": "1"}),
}

flags.DEFINE_string("root", "runs/sweep", "One logdir per seed goes here.")
flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Training seeds.")
flags.DEFINE_list("paths", ["xla"], f"Floating-point paths, of "
                  f"{', '.join(PATHS)}.")
flags.DEFINE_list("train_flags", [], "More flags for train.py, such as "
                  "--train_flags=--num_steps=5000,--samples_per_image=1.")
flags.DEFINE_float("threshold", 0.98, "Held-out count accuracy whose first "
                   "crossing is timed.", lower_bound=0, upper_bound=1)
flags.DEFINE_integer("eval_images", 10000, "Held-out images of the final "
                     "evaluation.", lower_bound=1)
flags.DEFINE_integer("iw_images", 500, "Images of the 100-sample IW bound; "
                     "0 skips it.", lower_bound=0)

FLAGS = flags.FLAGS
_EXPERIMENTS = os.path.dirname(os.path.abspath(__file__))


def _train(seed: int, path: str, logdir: str) -> None:
  """Trains one seed on one path."""
  path_flags, environment = PATHS[path]
  # The path's flags come last, so that a run is on the path its row
  # names whatever `--train_flags` (or a flagfile among them) say of XLA.
  cli.run_binary(os.path.join(_EXPERIMENTS, "train.py"), f"--logdir={logdir}",
                 f"--seed={seed}", *FLAGS.train_flags, *path_flags,
                 on_failure="run the sweep again to resume.",
                 environment=environment)


def _summarise(seed: int, path: str, logdir: str) -> dict:
  """The seed's curve and final figures."""
  launches = [launch["time"] for launch in logdir_lib.read_launches(logdir)]
  records = logdir_lib.read_eval_records(logdir)
  for record, minutes in zip(records, metrics.training_minutes(
      [record["time"] for record in records], launches)):
    record["minutes"] = minutes
  reached = metrics.first_reaching(records, "count_accuracy",
                                   FLAGS.threshold)
  with open(os.path.join(logdir, "final.json")) as f:
    final = json.load(f)
  return {"seed": seed, "path": path, "logdir": logdir, "curve": records,
          "final": final,
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
  variants = list(runs[0]["final"].get("variants", {}))
  lines = [
      f"Sweep of `experiments/train.py {' '.join(FLAGS.train_flags)}` "
      f"over seeds {', '.join(FLAGS.seeds)} on paths "
      f"{', '.join(FLAGS.paths)}; final figures on {FLAGS.eval_images} "
      f"held-out images per set (IW bound: first {FLAGS.iw_images}).", "",
      "| path | seed | final count accuracy | counted by ELBO | "
      + "".join(f"{name} | " for name in variants)
      + f"steps to {percent(FLAGS.threshold)} | minutes to "
      f"{percent(FLAGS.threshold)} | ELBO | 100-sample IW bound | final "
      f"step |",
      "|---" * (9 + len(variants)) + "|"]
  for run in runs:
    final = run["final"]
    lines.append(
        f"| {run['path']} | {run['seed']}"
        f"{' (resumed)' if run['launches'] > 1 else ''} | "
        f"{percent(final['count_accuracy'])} | "
        f"{percent(final['elbo_count_accuracy']) if 'elbo_count_accuracy' in final else 'n/a'} | "
        + "".join(f"{percent(final['variants'][name]['count_accuracy'])} | "
                  for name in variants)
        + f"{number(run['steps_to_threshold'], 'd')} | "
        f"{number(run['minutes_to_threshold'], '.1f')} | "
        f"{final['elbo']:.1f} | {'n/a' if final['iw_bound'] is None else format(final['iw_bound'], '.1f')} | "
        f"{final['step']} |")
  lines += ["", f"Per path (k of n: final count accuracy >= "
            f"{percent(FLAGS.threshold)}):", ""]
  for path in FLAGS.paths:
    chosen = [run for run in runs if run["path"] == path]
    accuracies = [run["final"]["count_accuracy"] for run in chosen]
    minutes = [run["minutes_to_threshold"] for run in chosen]
    reached = [value for value in minutes if value is not None]
    passed = sum(value >= FLAGS.threshold for value in accuracies)
    bands = "; ".join(
        f"{name} mean {percent(np.mean(values))}, min "
        f"{percent(np.min(values))}" for name, values in (
            (name, [run["final"]["variants"][name]["count_accuracy"]
                    for run in chosen]) for name in variants))
    lines.append(
        f"- {path}: {passed} of {len(chosen)} seeds; final count accuracy "
        f"mean {percent(np.mean(accuracies))}, min "
        f"{percent(np.min(accuracies))}, max {percent(np.max(accuracies))}; "
        f"median minutes to {percent(FLAGS.threshold)} "
        f"{number(np.median(minutes) if len(reached) == len(chosen) else None, '.1f')}"
        + (f"; {bands}" if bands else "") + ".")
  lines += ["", "Seeds x paths, final count accuracy:", "",
            "| seed | " + " | ".join(FLAGS.paths) + " |",
            "|---" * (1 + len(FLAGS.paths)) + "|"]
  by_key = {(run["seed"], run["path"]): run for run in runs}
  for seed in dict.fromkeys(run["seed"] for run in runs):
    lines.append(f"| {seed} | " + " | ".join(
        percent(by_key[seed, path]["final"]["count_accuracy"])
        for path in FLAGS.paths) + " |")
  lines += ["", "Confusion matrices (rows: true count 0.., columns: "
            "inferred):", ""]
  for run in runs:
    lines.append(f"- {run['path']}, seed {run['seed']}: "
                 f"`{run['final']['confusion']}`")
  return "\n".join(lines) + "\n"


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    seeds = [int(seed) for seed in FLAGS.seeds]
  except ValueError:
    cli.fail(f"--seeds takes integers, got {FLAGS.seeds}.")
  unknown = sorted(set(FLAGS.paths) - set(PATHS))
  if unknown or not FLAGS.paths:
    cli.fail(f"--paths takes some of {', '.join(PATHS)}; got "
             f"{','.join(FLAGS.paths)}.")
  runs = []
  for path in FLAGS.paths:
    for seed in seeds:
      logdir = os.path.join(FLAGS.root, path, f"seed_{seed}")
      final_json = os.path.join(logdir, "final.json")
      if not os.path.exists(final_json):
        print(f"=== path {path}, seed {seed}: training in {logdir}",
              flush=True)
        _train(seed, path, logdir)
        files.write_json(final_json, evaluation.FinalEvaluation(
            logdir, evaluation.EvaluationConfig(
                num_images=FLAGS.eval_images, iw_images=FLAGS.iw_images))())
      runs.append(_summarise(seed, path, logdir))
  report = _table(runs)
  files.write_atomically(os.path.join(FLAGS.root, "sweep.md"), report)
  files.write_json(os.path.join(FLAGS.root, "sweep.json"), runs)
  logdir_lib.write_hparams(FLAGS.root, [
      (run["logdir"],
       {"path": run["path"], "seed": run["seed"],
        **logdir_lib.flags_as_hparams(FLAGS.train_flags)},
       {"final/count_accuracy": run["final"]["count_accuracy"],
        "final/elbo": run["final"]["elbo"],
        f"final/minutes_to_{100 * FLAGS.threshold:g}%":
            run["minutes_to_threshold"]})
      for run in runs])
  visualisation.plot_curves(
      {f"{run['path']} seed {run['seed']}": run["curve"] for run in runs},
      os.path.join(FLAGS.root, "curves.png"), threshold=FLAGS.threshold)
  print(report, flush=True)


if __name__ == "__main__":
  app.run(main)

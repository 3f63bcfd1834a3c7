r"""Counting objects in numbers never seen in training, AIR against DAIR.

    python experiments/generalisation.py --root=runs/generalisation

The paper's two tests of generalisation (section 3.1), for every model of
`--models` and every seed:

- extrapolation: trained on scenes of 0-2 digits, it counts held-out scenes
  of 3 digits;
- interpolation: trained on scenes of 0, 1 and 3 digits, it counts held-out
  scenes of 2.

Each run is `experiments/train.py` in ROOT/MODEL_on_COUNTS_seed_S (while it
trains, TensorBoard shows its held-out count accuracy: on the training
counts for extrapolation, on the held-out count for interpolation), then its
final evaluation (`experiments/evaluate.py`'s, in this process) on the unseen
count and on the training counts.
Every model trains and is tested with one inference step more than the
largest count of either, so that over-counting shows and no step is used
at test time that training never trained; the counted scenes are drawn
independently of those watched during training. Writes
ROOT/generalisation.md (accuracies and confusion matrices), .json and .png.
Running it again resumes unfinished runs and re-evaluates nothing done.
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
from air_tf import visualisation

MODELS = {"air": ["--nodair"], "dair": ["--dair"]}

flags.DEFINE_string("root", "runs/generalisation", "One logdir per run "
                    "goes here.")
flags.DEFINE_list("models", list(MODELS), "Models compared.")
flags.DEFINE_list("seeds", ["0"], "Training seeds.")
flags.DEFINE_list("extrapolation_train_counts", ["0", "1", "2"],
                  "Digits per training scene of the extrapolation test.")
flags.DEFINE_list("extrapolation_test_counts", ["3"], "Digits per held-out "
                  "scene of the extrapolation test.")
flags.DEFINE_list("interpolation_train_counts", ["0", "1", "3"],
                  "Digits per training scene of the interpolation test.")
flags.DEFINE_list("interpolation_test_counts", ["2"], "Digits per held-out "
                  "scene of the interpolation test.")
flags.DEFINE_list("train_flags", [], "More flags for train.py, such as "
                  "--train_flags=--num_steps=5000.")
flags.DEFINE_integer("eval_images", 1000, "Held-out scenes counted per test.",
                     lower_bound=1)

FLAGS = flags.FLAGS
_EXPERIMENTS = os.path.dirname(os.path.abspath(__file__))


def _counts(values: list[str], flag: str) -> tuple[int, ...]:
  try:
    counts = tuple(int(value) for value in values)
  except ValueError:
    counts = ()
  if not counts or min(counts) < 0:
    cli.fail(f"--{flag} takes non-negative integers, got {values}.")
  return counts


def _joined(counts: tuple[int, ...]) -> str:
  return "-".join(map(str, counts))


def _train_and_test(model: str, seed: int, test: str,
                    train_counts: tuple[int, ...],
                    test_counts: tuple[int, ...]) -> dict:
  """Trains one run unless done; counts its scenes of the unseen and of
  the training counts unless done."""
  logdir = os.path.join(FLAGS.root,
                        f"{model}_on_{_joined(train_counts)}_seed_{seed}")
  max_steps = max(train_counts + test_counts) + 1
  evaluations = {test: test_counts, "training_counts": train_counts}
  paths = {name: os.path.join(logdir, f"{name}.json") for name in evaluations}
  if not all(os.path.exists(path) for path in paths.values()):
    print(f"=== {test}, {model}, seed {seed}: {logdir}", flush=True)
    # train.py returns at once when the run is trained. The interpolation
    # run watches its held-out count as it trains.
    watched = ["--test_counts=" + ",".join(map(str, test_counts))] if (
        test == "interpolation") else []
    cli.run_binary(
        os.path.join(_EXPERIMENTS, "train.py"), f"--logdir={logdir}",
        f"--seed={seed}", f"--max_steps={max_steps}",
        "--counts=" + ",".join(map(str, train_counts)), *watched,
        *FLAGS.train_flags, *MODELS[model],  # The model's flag wins.
        on_failure="run the experiment again to resume.")
  results = {}
  for name, counts in evaluations.items():
    if not os.path.exists(paths[name]):
      files.write_json(paths[name], evaluation.FinalEvaluation(
          logdir, evaluation.EvaluationConfig(
              num_images=FLAGS.eval_images, test_counts=counts,
              iw_samples=0, variants=False, count_by_elbo=False,
              png=os.path.join(logdir, name + ".png")))())
    with open(paths[name]) as f:
      results[name] = json.load(f)
  return {"test": test, "model": model, "seed": seed, "logdir": logdir,
          "trained_on": train_counts, "tested_on": test_counts,
          "max_steps": max_steps, "step": results[test]["step"],
          "count_accuracy": results[test]["count_accuracy"],
          "confusion": results[test]["confusion"],
          "training_counts_accuracy":
              results["training_counts"]["count_accuracy"],
          "training_counts_confusion": results["training_counts"]["confusion"]}


def _report(runs: list[dict]) -> str:
  """The markdown report: one row per run, means, confusion matrices."""
  lines = [
      f"`experiments/generalisation.py` with train.py flags "
      f"`{' '.join(FLAGS.train_flags) or '(defaults)'}`; count accuracy on "
      f"{FLAGS.eval_images} held-out scenes of each unseen count.", "",
      "| test | trained on | tested on | inference steps | model | seed | "
      "training steps | count accuracy, tested on | count accuracy, "
      "trained on |", "|---|---|---|---|---|---|---|---|---|"]
  for run in runs:
    lines.append(
        f"| {run['test']} | {_joined(run['trained_on'])} | "
        f"{_joined(run['tested_on'])} | "
        f"{run['max_steps']} | {run['model'].upper()} | {run['seed']} | "
        f"{run['step']} | {100 * run['count_accuracy']:.1f}% | "
        f"{100 * run['training_counts_accuracy']:.1f}% |")
  lines += ["", "Mean over seeds:", ""]
  for (test, model), accuracy in _means(runs).items():
    lines.append(f"- {test}, {model}: {100 * accuracy:.1f}%")
  lines += ["", "Confusion matrices (rows: true count 0.., columns: "
            "inferred), on the tested and on the training counts:", ""]
  for run in runs:
    lines.append(f"- {run['test']}, {run['model'].upper()}, seed "
                 f"{run['seed']}: `{run['confusion']}`; "
                 f"`{run['training_counts_confusion']}`")
  return "\n".join(lines) + "\n"


def _means(runs: list[dict]) -> dict[tuple[str, str], float]:
  """(test, MODEL) -> count accuracy averaged over the seeds."""
  keys = list(dict.fromkeys((run["test"], run["model"].upper())
                            for run in runs))
  return {key: float(np.mean([run["count_accuracy"] for run in runs
                              if (run["test"], run["model"].upper()) == key]))
          for key in keys}


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  unknown = sorted(set(FLAGS.models) - set(MODELS))
  if unknown or not FLAGS.models:
    cli.fail(f"--models takes some of {sorted(MODELS)}, got {FLAGS.models}.")
  try:
    seeds = [int(seed) for seed in FLAGS.seeds]
  except ValueError:
    cli.fail(f"--seeds takes integers, got {FLAGS.seeds}.")
  tests = {
      test: (_counts(getattr(FLAGS, f"{test}_train_counts"),
                     f"{test}_train_counts"),
             _counts(getattr(FLAGS, f"{test}_test_counts"),
                     f"{test}_test_counts"))
      for test in ("extrapolation", "interpolation")}
  runs = [_train_and_test(model, seed, test, *counts)
          for test, counts in tests.items() for model in FLAGS.models
          for seed in seeds]
  report = _report(runs)
  files.write_atomically(os.path.join(FLAGS.root, "generalisation.md"),
                         report)
  files.write_json(os.path.join(FLAGS.root, "generalisation.json"), runs)
  logdir_lib.write_hparams(FLAGS.root, [
      (run["logdir"],
       {"test": run["test"], "model": run["model"], "seed": run["seed"],
        **logdir_lib.flags_as_hparams(FLAGS.train_flags)},
       {"final/count_accuracy_tested_on": run["count_accuracy"],
        "final/count_accuracy_trained_on": run["training_counts_accuracy"]})
      for run in runs])
  bars = {}
  for (test, model), accuracy in _means(runs).items():
    counts = tests[test]
    name = (f"{test}\ntrained on {_joined(counts[0])}, "
            f"tested on {_joined(counts[1])}")
    bars.setdefault(name, {})[model] = accuracy
  visualisation.plot_accuracy_bars(
      bars, os.path.join(FLAGS.root, "generalisation.png"))
  print(report, flush=True)


if __name__ == "__main__":
  app.run(main)

r"""Trains AIR, logging to TensorBoard and checkpointing.

    python experiments/train.py --logdir=runs/air
    tensorboard --logdir=runs

Running the same command again resumes from the latest checkpoint.
`--strategy` trains on several devices or machines (`air_tf.distribution`):

    python experiments/train.py --logdir=runs/air --strategy=mirrored
    TF_CONFIG='{"cluster": {"worker": ["host1:2222", "host2:2222"]},
                "task": {"type": "worker", "index": 0}}' \
      python experiments/train.py --logdir=shared/air --strategy=multi_worker

(the same with index 1 on host2). Every field of the model (`AIRConfig`),
training (`TrainConfig`), scenes (`DataConfig`), schedule
(`training_loop.Schedule`) and devices (`distribution.Devices`)
configurations is a flag of the same name, documented where the field
is. `--dataset=tabletop` trains AIR with the fixed table-top renderer
(the paper's 3D scenes), whose model (`TabletopConfig`) takes the flags
`--tabletop_FIELD`:

    python experiments/train.py --logdir=runs/tabletop --dataset=tabletop
"""

from absl import app
from absl import flags

from air_tf import cli
from air_tf import config_flags
from air_tf import datasets
from air_tf import distribution
from air_tf import models
from air_tf import scenes
from air_tf import tabletop
from air_tf import tabletop_air
from air_tf import training_loop
from air_tf.config import AIRConfig
from air_tf.renderer import LIKELIHOODS
from air_tf.tabletop_air import TabletopConfig
from air_tf.training import OBJECTIVES, TrainConfig

flags.DEFINE_string("logdir", "runs/air", "Checkpoints, TensorBoard events "
                    "and the run's records go here; an existing run is "
                    "resumed.")
flags.DEFINE_bool("replace_training_config", False, "Resume a run under "
                  "this command's training configuration even where it "
                  "differs from the recorded one (which it replaces); the "
                  "run then no longer repeats an uninterrupted one.")
_FLAG_PREFIXES = {AIRConfig: "", TabletopConfig: tabletop_air.FLAG_PREFIX}
config_flags.define_flags(AIRConfig, {"likelihood": LIKELIHOODS})
config_flags.define_flags(
    TabletopConfig, tabletop_air.FLAG_CHOICES,
    prefix=_FLAG_PREFIXES[TabletopConfig])
config_flags.define_flags(TrainConfig, {"objective": OBJECTIVES})
config_flags.define_flags(datasets.DataConfig,
                          {"dataset": datasets.DATASETS,
                           "layout": scenes.LAYOUTS,
                           "scene_renderer": tabletop.SCENE_RENDERERS})
config_flags.define_flags(training_loop.Schedule)
config_flags.define_flags(distribution.Devices,
                          {"strategy": distribution.STRATEGIES})

FLAGS = flags.FLAGS


def _model_config():
  """The table-top model's configuration for the table-top dataset, the 2D
  model's for the others; flags of the other model are refused."""
  kind = models.config_kind(FLAGS.dataset)
  unused = [name for other, prefix in _FLAG_PREFIXES.items()
            if other is not kind
            for name in config_flags.given_flags(other, prefix=prefix)]
  if unused:
    raise ValueError(f"--dataset={FLAGS.dataset} trains a {kind.__name__} "
                     f"model; {', '.join('--' + name for name in unused)} "
                     f"configure the other model.")
  return config_flags.from_flags(kind, prefix=_FLAG_PREFIXES[kind])


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    configs = [_model_config()] + [config_flags.from_flags(kind) for kind in (
        TrainConfig, datasets.DataConfig, training_loop.Schedule)]
    strategy = distribution.make_strategy(
        config_flags.from_flags(distribution.Devices))
  except ValueError as error:
    cli.fail(error)
  try:
    training_loop.train(FLAGS.logdir, *configs, FLAGS.replace_training_config,
                        report=lambda line: print(line, flush=True),
                        strategy=strategy)
  except (training_loop.RunError, training_loop.Diverged) as error:
    cli.fail(error)
  except training_loop.Interrupted as stop:
    print(stop, flush=True)
    raise SystemExit(128 + stop.signal.value) from None


if __name__ == "__main__":
  app.run(main)

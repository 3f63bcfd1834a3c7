r"""Measures training and SavedModel inference throughput.

    python experiments/benchmark.py --export_dir=runs/air/export

Prints one line per figure: the median over `--windows` timing windows,
after warm-up (tracing) is excluded; a training line also gives the
seconds of its first step, which traces (and compiles) it. Training is
timed for each of `--configs` at `--inferences_per_step` (images x
samples per image), on multi-MNIST images:

- default: `AIRConfig()` and `TrainConfig()` (DAIR), 4 samples an image
  (16 images at the flag's 64, the same work a step for every
  configuration; to time training's own step, pass `TrainConfig()`'s
  batch_size x samples_per_image).
- air: the default without DAIR (the image is encoded once per image).
- enumerate: the default with the count summed out of the ELBO
  (`--objective=enumerate`: no REINFORCE, no baseline network).
- pyro: the architecture of Pyro's examples/air: the inference LSTM (256)
  and the baseline's LSTM read the raw image, 200-unit MLPs, a 28x28
  window, 64 images x 1 sample.

Inference is timed on the SavedModel in `--export_dir` (or, without it, on
a freshly initialised default model exported to a temporary folder) at each
of `--inference_batch_sizes`. `tabletop` times the table-top AIR's
deterministic inference (a fresh `TabletopConfig()` model, XLA-compiled;
its cost does not depend on the weights) on table-top scenes at the same
batch sizes. `--strategy` times training on replicas
(`--strategy=mirrored --cpu_devices=2`: two logical CPUs). A benchmark,
not a test: it asserts nothing.
"""

import dataclasses
import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from air_tf import cli
from air_tf import config_flags
from air_tf import distribution
from air_tf import mnist
from air_tf import export
from air_tf import tabletop
from air_tf.config import AIRConfig
from air_tf.model import AIR
from air_tf.tabletop_air import TabletopAIR, TabletopConfig
from air_tf.training import TrainConfig, Trainer

_MEASURES = ("train", "inference", "tabletop")
flags.DEFINE_list("measure", ["train", "inference"], "What to time, of "
                  f"{', '.join(_MEASURES)}.")
flags.DEFINE_list("configs", ["default", "pyro"], "Training configurations "
                  "to time (see the module docstring).")
flags.DEFINE_integer("inferences_per_step", 64, "Images x samples per image "
                     "of a training step.", lower_bound=1)
flags.DEFINE_bool("jit_compile", True, "Compile the training step with XLA.")
flags.DEFINE_list("inference_batch_sizes", ["1", "256"],
                  "Batch sizes of the inference timings.")
flags.DEFINE_string("export_dir", None, "SavedModel of experiments/export.py "
                    "to time; default: a fresh default model.")
flags.DEFINE_integer("windows", 5, "Timing windows per figure.", lower_bound=1)
flags.DEFINE_float("window_seconds", 4.0, "Least duration of each window.",
                   lower_bound=0)

config_flags.define_flags(distribution.Devices,
                          {"strategy": distribution.STRATEGIES})
FLAGS = flags.FLAGS

_CONFIGS = {
    "default": (AIRConfig(), TrainConfig()),
    "pyro": (AIRConfig(window_size=28, encoder_hidden=(200,),
                       decoder_hidden=(200,), image_encoder_hidden=(),
                       dair=False, reader_square_root=False),
             TrainConfig(samples_per_image=1)),
    "air": (AIRConfig(dair=False), TrainConfig()),
    "enumerate": (AIRConfig(), TrainConfig(objective="enumerate")),
}


def _median_rate(run_once, items_per_call: int) -> tuple[float, float]:
  """Median items/second over the timing windows, and the seconds of the
  warm-up call before them (the first, which traces)."""
  start = time.perf_counter()
  run_once()
  warm_up_seconds = time.perf_counter() - start
  rates = []
  for _ in range(FLAGS.windows):
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < FLAGS.window_seconds or calls < 3:
      run_once()
      calls += 1
    rates.append(calls * items_per_call / (time.perf_counter() - start))
  return float(np.median(rates)), warm_up_seconds


def _images(count: int) -> np.ndarray:
  _, scenes = mnist.multi_mnist(num_train=0, num_test=count)
  return scenes.float_images()


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  unknown = set(FLAGS.measure) - set(_MEASURES)
  if unknown:
    cli.fail(f"--measure takes {', '.join(_MEASURES)}, not "
             f"{sorted(unknown)}.")
  unknown = set(FLAGS.configs) - set(_CONFIGS)
  if unknown:
    cli.fail(f"--configs takes {sorted(_CONFIGS)}, not {sorted(unknown)}.")
  try:
    strategy = distribution.make_strategy(
        config_flags.from_flags(distribution.Devices))
  except ValueError as error:
    cli.fail(error)
  device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
  replicas = strategy.num_replicas_in_sync if strategy else 1
  compiled = "XLA" if FLAGS.jit_compile else "no XLA"
  for name in FLAGS.configs if "train" in FLAGS.measure else []:
    model_config, train_config = _CONFIGS[name]
    samples = train_config.samples_per_image
    if FLAGS.inferences_per_step % samples:
      cli.fail(f"--inferences_per_step must be a multiple of {samples}, the "
               f"samples per image of {name}.")
    batch_size = FLAGS.inferences_per_step // samples
    train_config = dataclasses.replace(train_config, batch_size=batch_size,
                                       jit_compile=FLAGS.jit_compile)
    try:
      distribution.check_batch(strategy, batch_size)
    except ValueError as error:
      cli.fail(error)
    images = distribution.split_batch(strategy,
                                      tf.constant(_images(batch_size)))
    trainer = Trainer(AIR(model_config), train_config, strategy)
    rate, first_step_seconds = _median_rate(
        lambda t=trainer, i=images: t.train_step(i)["elbo"].numpy(), 1)
    print(f"train {name} config, {batch_size} images x {samples} samples, "
          f"{device}, {compiled}, {replicas} replica(s): {rate:.2f} steps/s "
          f"({rate * batch_size:.0f} images/s; first step "
          f"{first_step_seconds:.1f} s)")
  if "inference" in FLAGS.measure:
    export_dir = FLAGS.export_dir
    if export_dir is None:
      model = AIR(AIRConfig())
      model.build()
      export_dir = os.path.join(tempfile.mkdtemp(), "air")
      export.export(model, 0.01, export_dir)
    try:
      infer = tf.saved_model.load(export_dir).signatures["serving_default"]
    except (OSError, ValueError) as error:
      cli.fail(f"cannot load a SavedModel from {export_dir} ({error}).")
    sizes = [int(size) for size in FLAGS.inference_batch_sizes]
    pool = _images(max(sizes))
    for size in sizes:
      batch = tf.constant(pool[:size])
      rate, _ = _median_rate(
          lambda b=batch: infer(images=b)["count"].numpy(), size)
      print(f"SavedModel inference, batch {size}, {device}: "
            f"{rate:.1f} images/s ({1000 * size / rate:.2f} ms per batch)")
  if "tabletop" in FLAGS.measure:
    model = TabletopAIR(TabletopConfig())
    model.build()
    infer = tf.function(lambda images: model(images, 1e-5, sample=False).count,
                        autograph=False,
                        jit_compile=True)
    sizes = [int(size) for size in FLAGS.inference_batch_sizes]
    pool = tabletop.tabletop_scenes(max(sizes), seed=1).float_images()
    for size in sizes:
      batch = tf.constant(pool[:size])
      rate, _ = _median_rate(lambda b=batch: infer(b).numpy(), size)
      print(f"table-top AIR inference, batch {size}, {device}: "
            f"{rate:.1f} images/s ({1000 * size / rate:.2f} ms per batch)")


if __name__ == "__main__":
  app.run(main)

"""Pictures of what AIR found: image | reconstruction, one box per step."""

import io
import os
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from air_tf import files

# One colour per step: red, green, blue, yellow, magenta, cyan.
STEP_COLOURS = np.array([[255, 40, 40], [40, 220, 40], [60, 120, 255],
                         [255, 220, 0], [255, 0, 255], [0, 230, 230]],
                        np.uint8)


def draw_boxes(images: np.ndarray, boxes: np.ndarray, present: np.ndarray,
               upscale: int = 2) -> np.ndarray:
  """Draws each present step's box in its colour.

  Args:
    images: `[B, H, W]` grey or `[B, H, W, 3]` colour, float in [0, 1].
    boxes: `[B, N, 4]` (ymin, xmin, ymax, xmax) pixel edges.
    present: `[B, N]` which boxes to draw.
    upscale: pixels per image pixel in the output, for visible boxes.

  Returns:
    `[B, H * upscale, W * upscale, 3]` uint8.
  """
  if images.ndim == 3:
    images = np.repeat(images[..., np.newaxis], 3, axis=-1)
  rgb = np.clip(images, 0.0, 1.0) * 255
  rgb = np.repeat(np.repeat(rgb, upscale, axis=1), upscale,
                  axis=2).astype(np.uint8)
  height, width = rgb.shape[1:3]
  for b, n in zip(*np.nonzero(present)):
    ymin, xmin, ymax, xmax = np.round(boxes[b, n] * upscale).astype(int)
    ymax, xmax = ymax - 1, xmax - 1
    colour = STEP_COLOURS[n % len(STEP_COLOURS)]
    rows = np.arange(max(ymin, 0), min(ymax, height - 1) + 1)
    columns = np.arange(max(xmin, 0), min(xmax, width - 1) + 1)
    for row in (ymin, ymax):
      if 0 <= row < height:
        rgb[b, row, columns] = colour
    for column in (xmin, xmax):
      if 0 <= column < width:
        rgb[b, rows, column] = colour
  return rgb


def comparison_grid(images: np.ndarray, reconstructions: np.ndarray,
                    boxes: np.ndarray, present: np.ndarray,
                    columns: int = 4, upscale: int = 2) -> np.ndarray:
  """Tiles image | reconstruction pairs, both with boxes, into one picture.

  Returns:
    `[rows * h, columns * 2 * w, 3]` uint8 with a 2-pixel gap between pairs.
  """
  left = draw_boxes(images, boxes, present, upscale)
  right = draw_boxes(reconstructions, boxes, present, upscale)
  gap = 2
  pairs = np.pad(np.concatenate([left, right], axis=2),
                 [(0, 0), (gap, gap), (gap, gap), (0, 0)],
                 constant_values=128)
  count, height, width, _ = pairs.shape
  rows = -(-count // columns)
  pairs = np.concatenate(
      [pairs, np.full([rows * columns - count, height, width, 3], 128,
                      np.uint8)])
  grid = pairs.reshape(rows, columns, height, width, 3)
  return grid.transpose(0, 2, 1, 3, 4).reshape(rows * height,
                                               columns * width, 3)


def write_png(path: str, picture: np.ndarray) -> None:
  """Writes a `[H, W, 3]` uint8 picture; the file appears whole or not."""
  write_pngs([path], picture[np.newaxis])


def write_pngs(paths: Sequence[str], pictures: np.ndarray) -> None:
  """Writes `[B, H, W, 3]` uint8 pictures, encoded in parallel, one file
  per path; each file appears whole or not."""
  encoded = tf.data.Dataset.from_tensor_slices(pictures).map(
      tf.io.encode_png, num_parallel_calls=tf.data.AUTOTUNE).batch(
          len(pictures)).get_single_element().numpy()
  for path, contents in zip(paths, encoded):
    _make_folder(path)
    files.write_atomically(path, contents)


def confusion_image(confusion: np.ndarray) -> np.ndarray:
  """The true x inferred count matrix as a heat map with its numbers.

  Args:
    confusion: `[T, I]` counts, rows the true count 0..T-1, columns the
      inferred count 0..I-1.

  Returns:
    `[H, W, 3]` uint8, for `tf.summary.image`.
  """
  pyplot = _pyplot()
  confusion = np.asarray(confusion)
  rows, columns = confusion.shape
  figure, axis = pyplot.subplots(figsize=(1.2 + 0.6 * columns,
                                          1.0 + 0.6 * rows), dpi=80)
  # Each row as a share of its true count, so that rare counts show too.
  shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
  axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
  for row in range(rows):
    for column in range(columns):
      axis.text(column, row, str(confusion[row, column]), ha="center",
                va="center", fontsize=8,
                color="white" if shares[row, column] > 0.5 else "black")
  axis.set_xticks(range(columns))
  axis.set_yticks(range(rows))
  axis.set_xlabel("inferred count")
  axis.set_ylabel("true count")
  figure.tight_layout()
  figure.canvas.draw()
  picture = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
  pyplot.close(figure)
  return picture


def plot_curves(curves: Mapping[str, Sequence[Mapping[str, float]]],
                path: str, key: str = "count_accuracy",
                threshold: float | None = None) -> None:
  """Plots `key` against training steps and against minutes, one line per run.

  Args:
    curves: run name -> its evaluation records in training order, each with
      "step", "minutes" and `key`.
    path: the PNG to write (whole or not at all).
    key: the figure on the y axis.
    threshold: draws a dashed horizontal line at this value.
  """
  pyplot = _pyplot()
  figure, axes = pyplot.subplots(1, 2, figsize=(11, 4), sharey=True)
  for name, records in curves.items():
    values = [record[key] for record in records]
    axes[0].plot([record["step"] for record in records], values, marker=".",
                 label=name)
    axes[1].plot([record["minutes"] for record in records], values,
                 marker=".", label=name)
  for axis, label in zip(axes, ["training step", "wall-clock minutes"]):
    if threshold is not None:
      axis.axhline(threshold, color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel(label)
    axis.grid(alpha=0.3)
  axes[0].set_ylabel(key.replace("_", " "))
  axes[1].legend(loc="lower right")
  figure.tight_layout()
  _save_figure(figure, pyplot, path)


def plot_label_efficiency(results: Mapping[str, Mapping[str, Sequence[float]]],
                          label_counts: Mapping[str, Sequence[int]],
                          path: str) -> None:
  """Test accuracy against labelled training examples, one panel per task.

  Args:
    results: task -> method -> one accuracy per entry of its `label_counts`.
    label_counts: task -> the numbers of labelled examples (log axis).
    path: the PNG to write (whole or not at all).
  """
  pyplot = _pyplot()
  figure, axes = pyplot.subplots(1, len(results), figsize=(5.5 * len(results),
                                                           4), squeeze=False)
  for axis, (task, methods) in zip(axes[0], results.items()):
    for method, accuracies in methods.items():
      axis.plot(label_counts[task], accuracies, marker="o", label=method)
    axis.set_xscale("log")
    axis.set_xlabel("labelled training scenes")
    axis.set_ylabel("test accuracy")
    axis.set_title(task)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
  figure.tight_layout()
  _save_figure(figure, pyplot, path)


def plot_accuracy_bars(accuracies: Mapping[str, Mapping[str, float]],
                       path: str) -> None:
  """Grouped bars: one group per test, one bar per model, labelled.

  Args:
    accuracies: test name -> model name -> accuracy in [0, 1].
    path: the PNG to write (whole or not at all).
  """
  pyplot = _pyplot()
  models = list(dict.fromkeys(model for by_model in accuracies.values()
                              for model in by_model))
  width = 0.8 / len(models)
  figure, axis = pyplot.subplots(figsize=(2.2 + 2.2 * len(accuracies), 4))
  for index, model in enumerate(models):
    positions = [group + (index - (len(models) - 1) / 2) * width
                 for group in range(len(accuracies))]
    values = [by_model.get(model, float("nan"))
              for by_model in accuracies.values()]
    bars = axis.bar(positions, values, width, label=model)
    axis.bar_label(bars, labels=[f"{value:.0%}" for value in values])
  axis.set_xticks(range(len(accuracies)), list(accuracies))
  axis.set_ylim(0, 1.1)
  axis.set_ylabel("count accuracy")
  axis.grid(alpha=0.3, axis="y")
  axis.legend(loc="upper right")
  figure.tight_layout()
  _save_figure(figure, pyplot, path)


def plot_scalars(runs: Mapping[str, Mapping[str, Mapping[int, float]]],
                 tags: Sequence[str], path: str, columns: int = 3) -> None:
  """Plots TensorBoard scalars of several runs side by side, one panel per
  tag, one line per run.

  Args:
    runs: run name -> tag -> {step: value} (`logdir.read_scalars`).
    tags: the tags to plot, in panel order; a run without a tag has no line
      in its panel.
    path: the PNG to write (whole or not at all).
    columns: panels per row.
  """
  pyplot = _pyplot()
  rows = -(-len(tags) // columns)
  figure, axes = pyplot.subplots(rows, columns, figsize=(4.2 * columns,
                                                         3.2 * rows),
                                 squeeze=False)
  for axis, tag in zip(axes.flat, tags):
    for name, scalars in runs.items():
      if tag in scalars:
        steps = sorted(scalars[tag])
        axis.plot(steps, [scalars[tag][step] for step in steps],
                  linewidth=1, label=name)
    axis.set_title(tag, fontsize=10)
    axis.set_xlabel("training step")
    axis.grid(alpha=0.3)
  for axis in list(axes.flat)[len(tags):]:
    axis.set_visible(False)
  axes.flat[0].legend(fontsize=8)
  figure.tight_layout()
  _save_figure(figure, pyplot, path)


def _pyplot():
  """matplotlib's pyplot on the file-only Agg backend.

  Imported on first use so that the model library needs no display (nor
  matplotlib's import time) unless a plot is drawn.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  return pyplot


def _make_folder(path: str) -> None:
  folder = os.path.dirname(path)
  if folder:
    os.makedirs(folder, exist_ok=True)


def _save_figure(figure, pyplot, path: str) -> None:
  """Writes a matplotlib figure to a PNG that appears whole or not."""
  _make_folder(path)
  png = io.BytesIO()
  figure.savefig(png, format="png", dpi=100)
  pyplot.close(figure)
  files.write_atomically(path, png.getvalue())


def plot_error_against_time(
    methods: Mapping[str, Sequence[Mapping[str, float]]],
    keys: Sequence[str], path: str) -> None:
  """Figures of each method against wall-clock seconds per image (log
  scale), one panel per figure.

  Args:
    methods: method name -> its points, each with "seconds_per_image" and
      every one of `keys`.
    keys: the figures, one panel each.
    path: the PNG to write (whole or not at all).
  """
  pyplot = _pyplot()
  figure, axes = pyplot.subplots(1, len(keys), figsize=(4.5 * len(keys), 4))
  for axis, key in zip(np.atleast_1d(axes), keys):
    for name, points in methods.items():
      axis.plot([point["seconds_per_image"] for point in points],
                [point[key] for point in points], marker="o", label=name)
    axis.set_xscale("log")
    axis.set_xlabel("wall-clock seconds per image")
    axis.set_ylabel(key.replace("_", " "))
    axis.grid(alpha=0.3)
  np.atleast_1d(axes)[0].legend(fontsize=8)
  figure.tight_layout()
  _save_figure(figure, pyplot, path)

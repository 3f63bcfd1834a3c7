r"""Counts and boxes the objects in image files with an exported AIR.

    python experiments/annotate.py --model=runs/air/export \
        --input=my_images/,extra.png --output=annotated/

Reads PNG and JPEG files (read and decoded in parallel by a `tf.data`
pipeline) and `.npy` arrays (`[H, W]` or a stack `[K, H, W]`; uint8 0-255
or floats in [0, 1]); a folder contributes the files of those kinds
directly in it. Colour images are turned to grey. An image whose size
differs from the model's canvas but has the same aspect ratio is resized
(and the JSON line says from what); any other size is rejected. Writes
OUTPUT/annotations.jsonl, one line per image (file, index in the file,
count, boxes of the present objects as (ymin, xmin, ymax, xmax) pixels of
the canvas, presence probabilities), and OUTPUT/NAME.png with the boxes
drawn (unless --nopngs). Exits with status 1 after annotating what it
could if any input was rejected.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from air_tf import annotate
from air_tf import cli
from air_tf import visualisation

flags.DEFINE_string("model", None, "SavedModel of experiments/export.py.")
flags.DEFINE_list("input", None, "Image files, .npy files or folders.")
flags.DEFINE_string("output", None, "Folder for annotations.jsonl and PNGs.")
flags.DEFINE_integer("batch_size", 256, "Images per SavedModel call.",
                     lower_bound=1)
flags.DEFINE_bool("pngs", True, "Also write OUTPUT/NAME.png, the image with "
                  "its boxes drawn; --nopngs for large folders, where "
                  "encoding and writing a picture per image costs more than "
                  "inferring its objects.")
flags.mark_flags_as_required(["model", "input", "output"])

FLAGS = flags.FLAGS

def _annotate(model, images: np.ndarray, names, sources, output: str,
              out_file) -> None:
  """Runs the model on `[B, H, W]` images and writes their annotations."""
  result = model.signatures["serving_default"](images=tf.constant(images))
  counts = result["count"].numpy()
  boxes = result["boxes"].numpy()
  probs = result["z_pres_prob"].numpy()
  present = np.arange(boxes.shape[1])[np.newaxis] < counts[:, np.newaxis]
  for k, (path, index, original) in enumerate(sources):
    line = {"file": path, "index": index, "count": int(counts[k]),
            "boxes": boxes[k, :counts[k]].round(2).tolist(),
            "z_pres_prob": probs[k].round(4).tolist()}
    if original is not None:
      line["resized_from"] = original
    out_file.write(json.dumps(line) + "\n")
  if FLAGS.pngs:
    visualisation.write_pngs(
        [os.path.join(output, name + ".png") for name in names],
        visualisation.draw_boxes(images, boxes, present))


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {argv[1:]}")
  try:
    model = tf.saved_model.load(FLAGS.model)
    canvas_size = tuple(int(v) for v in model.canvas_size.numpy())
  except (OSError, ValueError, AttributeError, tf.errors.OpError) as error:
    cli.fail(f"cannot load an exported AIR from --model {FLAGS.model} "
             f"({str(error).splitlines()[0]}).")
  # SavedModels exported before colour models have no image_shape: grey.
  image_shape = getattr(model, "image_shape", None)
  if image_shape is not None and len(image_shape.numpy()) != 2:
    cli.fail(f"--model {FLAGS.model} takes colour images "
             f"{image_shape.numpy().tolist()}; annotate.py reads grey "
             f"images for a 2D AIR.")
  try:
    files = annotate.input_files(FLAGS.input)
  except FileNotFoundError as error:
    cli.fail(error)
  if not files:
    cli.fail(f"no {', '.join(annotate.SUFFIXES)} files in --input "
             f"{FLAGS.input}.")
  os.makedirs(FLAGS.output, exist_ok=True)

  rejected, pending, done, started = [], [], 0, time.time()

  def flush(out, size, files_read):
    nonlocal done
    batch, pending[:size] = pending[:size], []
    images, names, sources = zip(*batch)
    _annotate(model, np.stack(images), names, sources, FLAGS.output, out)
    done += len(batch)
    print(f"annotated {done} images from {files_read}/{len(files)} files "
          f"({done / (time.time() - started):.0f} images/s)", flush=True)

  with open(os.path.join(FLAGS.output, "annotations.jsonl"), "w") as out:
    for number, read in enumerate(annotate.read_inputs(files, canvas_size),
                                  1):
      if read.rejected:
        rejected.append(read.path)
        print(f"skipped {read.path}: it {read.rejected}", file=sys.stderr,
              flush=True)
        continue
      stem = os.path.splitext(os.path.basename(read.path))[0]
      for index, image in enumerate(read.images):
        name = stem if len(read.images) == 1 else f"{stem}_{index}"
        pending.append((image, name, (read.path, index, read.resized_from)))
      while len(pending) >= FLAGS.batch_size:
        flush(out, FLAGS.batch_size, number)
    if pending:
      flush(out, len(pending), len(files))
  print(f"wrote {os.path.join(FLAGS.output, 'annotations.jsonl')}")
  if rejected:
    cli.fail(f"{len(rejected)} of {len(files)} input files were rejected "
             f"(reasons above).")


if __name__ == "__main__":
  app.run(main)

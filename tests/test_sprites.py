import numpy as np
import pytest

from air_tf import sprites


@pytest.mark.parametrize("shape,area", [("square", 1.0),
                                        ("triangle", 0.5),
                                        ("circle", np.pi / 4)])
def test_shapes_cover_their_share_of_the_box(shape, area):
  mask = sprites.draw_shape(shape, 41)
  assert mask.shape == (41, 41) and mask.dtype == bool
  assert abs(mask.mean() - area) < 0.03
  np.testing.assert_array_equal(mask, mask[:, ::-1])  # Left-right symmetric.


def test_scenes_hold_their_counts_of_sprites_in_their_boxes():
  scenes = sprites.multi_sprites(200, seed=3, canvas_size=30,
                                 counts=(0, 1, 3), sizes=(5, 8))
  assert scenes.images.shape == (200, 30, 30)
  assert scenes.images.dtype == np.uint8
  assert set(np.unique(scenes.counts)) == {0, 1, 3}
  assert scenes.boxes.shape == (200, 3, 4)
  for image, count, boxes in zip(scenes.images, scenes.counts, scenes.boxes):
    ink = image > 0
    assert ink.any() == (count > 0)
    covered = np.zeros_like(ink)
    for top, left, bottom, right in boxes[:count].astype(int):
      assert bottom - top in (5, 8) and right - left in (5, 8)
      covered[top:bottom, left:right] = True
    assert not (ink & ~covered).any()  # No ink outside the boxes.
    np.testing.assert_array_equal(boxes[count:], 0)
  bright = scenes.images[scenes.counts > 0].max(axis=(1, 2))
  assert bright.min() >= 0.5 * 255 - 1


def test_scenes_are_deterministic_and_overlap_sometimes():
  a = sprites.multi_sprites(300, seed=1, counts=(3,))
  b = sprites.multi_sprites(300, seed=1, counts=(3,))
  np.testing.assert_array_equal(a.images, b.images)
  boxes = a.boxes
  overlaps = ((boxes[:, 0, 0] < boxes[:, 1, 2]) &
              (boxes[:, 1, 0] < boxes[:, 0, 2]) &
              (boxes[:, 0, 1] < boxes[:, 1, 3]) &
              (boxes[:, 1, 1] < boxes[:, 0, 3]))
  assert 0 < overlaps.mean() < 1


def test_bad_arguments_say_what_was_expected():
  with pytest.raises(ValueError, match="shape must be one of"):
    sprites.draw_shape("hexagon", 5)
  with pytest.raises(ValueError, match="at most the canvas"):
    sprites.multi_sprites(1, 0, canvas_size=10, sizes=(12,))
  with pytest.raises(ValueError, match="brightness"):
    sprites.multi_sprites(1, 0, brightness=(0.0, 1.0))

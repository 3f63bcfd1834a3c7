import numpy as np
import pytest

from air_tf import mnist
from air_tf import datasets
from air_tf.datasets import DataConfig


def test_config_round_trips_through_json():
  config = DataConfig(dataset="omniglot", counts=(1, 2), test_counts=(3,),
                      data_seed=4, omniglot_dir="/data/omniglot")
  assert DataConfig.from_json(config.to_json()) == config


def test_counts_default_per_dataset():
  assert DataConfig().counts == (0, 1, 2)
  assert DataConfig(dataset="sprites").counts == (0, 1, 2, 3)
  assert DataConfig(counts=(0, 2)).test_counts == (0, 2)
  assert DataConfig(counts=(0, 2), test_counts=(1,)).test_counts == (1,)
  # Defaults written out and left out are the same configuration, so a
  # run resumes either way.
  assert DataConfig(counts=(0, 1, 2), test_counts=(0, 1, 2)) == DataConfig()
  assert DataConfig.from_json(DataConfig(counts=(0, 2)).to_json()) == (
      DataConfig(counts=[0, 2]))


@pytest.mark.parametrize("fields,message", [
    ({"dataset": "cifar"}, "Unknown dataset 'cifar'"),
    ({"dataset": "omniglot"}, "needs --omniglot_dir"),
    ({"counts": (-1, 2)}, "counts must be non-negative"),
    ({"test_counts": ()}, "test_counts must be non-negative"),
    ({"layout": "overlapping"}, "Unknown layout 'overlapping'"),
    ({"digit_sizes": (28, 14)}, r"1 <= min <= max, got \(28, 14\)"),
    ({"layout": "pyro", "digit_sizes": (14, 28)}, "leave it unset"),
    ({"dataset": "sprites", "digit_sizes": (14, 28)}, "leave it unset"),
])
def test_bad_configs_say_what_was_expected(fields, message):
  with pytest.raises(ValueError, match=message):
    DataConfig(**fields)


def test_digit_sizes_default_to_14_to_28_pixels():
  assert DataConfig().digit_sizes == (14, 28) == mnist.DIGIT_SIZES
  assert DataConfig(layout="pyro").digit_sizes is None
  assert DataConfig(dataset="sprites").digit_sizes is None
  assert DataConfig.from_json(DataConfig(digit_sizes=[20, 22]).to_json()) == (
      DataConfig(digit_sizes=(20, 22)))


def test_held_out_variants_cover_each_size_band_and_pyro():
  variants = datasets.held_out_variants(DataConfig(data_seed=3, counts=(1,)))
  assert {name: (config.layout, config.digit_sizes)
          for name, config in variants.items()} == {
              "digits_14_18px": ("ink_apart", (14, 18)),
              "digits_18_24px": ("ink_apart", (18, 24)),
              "digits_24_28px": ("ink_apart", (24, 28)),
              "digits_28px": ("ink_apart", (28, 28)),
              "pyro_layout": ("pyro", None)}
  assert all(config.data_seed == 3 and config.counts == (1,)
             for config in variants.values())
  assert datasets.held_out_variants(DataConfig(dataset="sprites")) == {}


def test_unknown_json_fields_are_rejected():
  with pytest.raises(ValueError, match="Unknown DataConfig fields"):
    DataConfig.from_json('{"name": "sprites", "colour": true}')


def test_held_out_scenes_can_have_other_counts(tmp_path):
  digits = np.zeros([30, 28, 28], np.uint8)
  digits[:, 8:20, 10:18] = 255
  mnist = str(tmp_path / "mnist.npz")
  np.savez(mnist, x_train=digits, x_test=digits)
  train, test = datasets.make_scenes(
      DataConfig(counts=(0, 2), test_counts=(1,), mnist_path=mnist),
      num_train=40, num_test=10, canvas_size=50)
  assert set(np.unique(train.counts)) == {0, 2}
  np.testing.assert_array_equal(test.counts, 1)
  train, test = datasets.make_scenes(
      DataConfig(dataset="sprites", data_seed=2), 50, 20, canvas_size=40)
  assert train.images.shape == (50, 40, 40) and len(test) == 20
  assert train.counts.max() == 3


def test_a_run_recorded_with_the_old_field_names_loads():
  assert DataConfig.from_json('{"name": "sprites", "seed": 3}') == DataConfig(
      dataset="sprites", data_seed=3)

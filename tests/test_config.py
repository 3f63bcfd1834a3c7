import dataclasses

import pytest

from air_tf import logdir
from air_tf.config import AIRConfig


def test_json_round_trip():
  config = AIRConfig(canvas_size=(32, 40), encoder_hidden=(5, 6), dair=True)
  assert AIRConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("changes, message", [
    ({"likelihood": "poisson"}, "likelihood"),
    ({"max_steps": 0}, "max_steps"),
    ({"likelihood_std": 0.0}, "likelihood_std"),
    ({"scale_range": 3.0}, "scale_range"),
])
def test_bad_configs_say_what_is_wrong(changes, message):
  with pytest.raises(ValueError, match=message):
    AIRConfig(**changes)


def test_unknown_fields_are_named():
  with pytest.raises(ValueError, match="colour"):
    AIRConfig.from_json('{"colour": 1}')


def test_logdir_rejects_a_different_model(tmp_path):
  config = AIRConfig()
  logdir.ensure_config(str(tmp_path), config)
  logdir.ensure_config(str(tmp_path), config)  # Same model: fine.
  assert logdir.load_config(str(tmp_path)) == config
  with pytest.raises(ValueError, match="z_what_size: 50 there, 10 asked"):
    logdir.ensure_config(str(tmp_path),
                         dataclasses.replace(config, z_what_size=10))


def test_missing_config_is_reported(tmp_path):
  with pytest.raises(FileNotFoundError, match="not a training logdir"):
    logdir.load_config(str(tmp_path))

import pytest

from air_tf.config import AIRConfig


def test_json_round_trip():
  config = AIRConfig(canvas_size=(32, 40), encoder_hidden=(5, 6), dair=True)
  assert AIRConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("changes, message", [
    ({"likelihood": "poisson"}, "likelihood"),
    ({"max_steps": 0}, "max_steps"),
    ({"likelihood_std": 0.0}, "likelihood_std"),
    ({"likelihood_background_std": 0.0}, "likelihood_background_std"),
    ({"likelihood": "bernoulli", "likelihood_background_std": 0.1},
     "likelihood_background_std"),
    ({"scale_range": 3.0}, "scale_range"),
    ({"object_size": 0}, "object_size"),
    ({"ink_contact_cost": -1.0}, "ink_contact_cost"),
    ({"image_encoder_channels": (16, 0)}, "image_encoder_channels"),
    ({"image_convolution_step_scale": 0.0}, "image_convolution_step_scale"),
    ({"likelihood_std_kernel": 3}, "likelihood_std_kernel"),
    ({"count_threshold": 0.0}, "count_threshold"),
    ({"count_threshold": 1.0}, "count_threshold"),
    ({"count_by_zooms": True, "count_by_flips": False}, "count_by_zooms"),
    ({"window_centring": -0.1}, "window_centring"),
    ({"window_centring": 1.5}, "window_centring"),
    ({"likelihood_std_kernel": -1, "likelihood_background_std": 0.2},
     "likelihood_std_kernel"),
])
def test_bad_configs_say_what_is_wrong(changes, message):
  with pytest.raises(ValueError, match=message):
    AIRConfig(**changes)


def test_the_decoder_draws_at_the_window_s_size_unless_told():
  assert AIRConfig(window_size=28).decoded_size == 28
  config = AIRConfig(window_size=28, object_size=14)
  assert config.decoded_size == 14
  assert AIRConfig.from_json(config.to_json()) == config
  # Runs saved before the field existed load with the window's size.
  assert AIRConfig.from_json('{"window_size": 20}').decoded_size == 20


def test_unknown_fields_are_named():
  with pytest.raises(ValueError, match="colour"):
    AIRConfig.from_json('{"colour": 1}')


def test_a_run_recorded_before_a_default_changed_keeps_its_value():
  # The square-root reader, the threshold 0.025 and the vote over mirror
  # images became the defaults after runs that read plain pixels, counted
  # at 0.5 and by their own pass were recorded without the fields.
  assert AIRConfig().reader_square_root
  assert AIRConfig().count_threshold == 0.025
  assert AIRConfig().count_by_flips
  old_run = AIRConfig.from_json('{"window_size": 20}')
  assert not old_run.reader_square_root
  assert old_run.count_threshold == 0.5
  assert not old_run.count_by_flips
  plain = AIRConfig(reader_square_root=False)
  assert AIRConfig.from_json(plain.to_json()) == plain
  assert AIRConfig.from_json(AIRConfig().to_json()) == AIRConfig()

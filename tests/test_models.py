"""Which model a configuration builds, and which scenes it can explain."""

import pytest

from air_tf import models
from air_tf.config import AIRConfig
from air_tf.model import AIR
from air_tf.tabletop_air import TabletopAIR, TabletopConfig


def test_each_configuration_builds_its_model():
  assert isinstance(models.make_model(AIRConfig()), AIR)
  assert isinstance(models.make_model(TabletopConfig()), TabletopAIR)


def test_the_tabletop_dataset_needs_the_tabletop_model():
  models.check_dataset(AIRConfig(), "multi_mnist")
  models.check_dataset(TabletopConfig(), "tabletop")
  with pytest.raises(ValueError, match="explained by the table-top renderer"):
    models.check_dataset(AIRConfig(), "tabletop")
  with pytest.raises(ValueError, match="explained by the 2D decoder"):
    models.check_dataset(TabletopConfig(), "sprites")

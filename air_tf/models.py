"""Which model a configuration builds: AIR on 2D canvases, or AIR with the
fixed table-top renderer (the paper's 3D scenes)."""

from typing import Union

from air_tf.config import AIRConfig
from air_tf.model import AIR
from air_tf.tabletop_air import TabletopAIR, TabletopConfig

ModelConfig = Union[AIRConfig, TabletopConfig]
Model = Union[AIR, TabletopAIR]
_MODELS = {AIRConfig: AIR, TabletopConfig: TabletopAIR}
# Table-top scenes are explained by the renderer; every other dataset by
# the learned 2D decoder.
_TABLETOP_DATASET = "tabletop"


def make_model(config: ModelConfig) -> Model:
  """The (untrained) model of `config`."""
  return _MODELS[type(config)](config)


def check_dataset(config: ModelConfig, dataset: str) -> None:
  """Raises ValueError unless `config`'s model can explain `dataset`."""
  tabletop = dataset == _TABLETOP_DATASET
  if tabletop != isinstance(config, TabletopConfig):
    raise ValueError(
        f"The {dataset} dataset is explained by "
        f"{'the table-top renderer (TabletopConfig)' if tabletop else 'the 2D decoder (AIRConfig)'}"
        f", but the run's model is a {type(config).__name__}.")

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
_EXPLAINED_BY = {AIRConfig: "the 2D decoder",
                 TabletopConfig: "the table-top renderer"}


def make_model(config: ModelConfig) -> Model:
  """The (untrained) model of `config`."""
  return _MODELS[type(config)](config)


def config_kind(dataset: str) -> type:
  """The model configuration that explains `dataset`."""
  return TabletopConfig if dataset == _TABLETOP_DATASET else AIRConfig


def check_dataset(config: ModelConfig, dataset: str) -> None:
  """Raises ValueError unless `config`'s model can explain `dataset`."""
  kind = config_kind(dataset)
  if not isinstance(config, kind):
    raise ValueError(f"The {dataset} dataset is explained by "
                     f"{_EXPLAINED_BY[kind]} ({kind.__name__}), but the "
                     f"run's model is a {type(config).__name__}.")

"""air_tf: Attend, Infer, Repeat (Eslami et al., 2016) in TensorFlow 2."""

__version__ = "0.1.0"

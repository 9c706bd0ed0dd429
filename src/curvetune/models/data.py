"""MNIST data for the ready trainables: the bundled 10,000-digit subset or the full IDX files.

``load_data(source)`` is what the trainable's ``data`` config key selects:

- ``"bundled"`` (the default): ``models/data/mnist10k.npz``, shipped with the package. It holds
  10,000 shuffled digits; the first 8,000 are the training split and the last 2,000 the
  validation split, always the same.
- ``"idx:/some/dir"`` or just ``"/some/dir"``: the four standard MNIST IDX files in that
  directory (raw or gzipped); the 60,000 training digits train and the 10,000 ``t10k`` digits
  validate. ``download_mnist(directory)`` fetches them and checks their SHA-256 sums.

Images come back as float32 arrays of shape (N, 28, 28), scaled to [0, 1] then standardised
with the usual MNIST mean and standard deviation; labels as int64 arrays. The arrays are
read-only because they are cached and shared by every segment a worker process runs.

The IDX file format itself is parsed by ``curvetune.models.idx`` (``read_idx``, re-exported
here); this module knows which files make MNIST, what they must hold, and how to fetch them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .idx import read_idx as read_idx

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

BUNDLED_FILE = "mnist10k.npz"
BUNDLED_TRAIN = 8000  # the first 8,000 bundled digits train, the last 2,000 validate

# Mirror that torchvision uses too (yann.lecun.com often refuses downloads).
MNIST_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

# SHA-256 of the four original MNIST archives (the same bytes on every mirror). torchvision
# lists their MD5 sums: f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d... respectively.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

IDX_TRAIN_IMAGES = "train-images-idx3-ubyte"
IDX_TRAIN_LABELS = "train-labels-idx1-ubyte"
IDX_VAL_IMAGES = "t10k-images-idx3-ubyte"
IDX_VAL_LABELS = "t10k-labels-idx1-ubyte"


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the known one (the file has been deleted)."""


@dataclass(frozen=True, slots=True)
class MnistData:
    """A training and a validation split: float32 images (N, 28, 28), int64 labels (N,)."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray


# ----------------------------------------------------------------------------- selection


def load_data(source: str | os.PathLike[str] = "bundled") -> MnistData:
    """The data a ``data`` config value names: ``"bundled"``, ``"idx:/dir"`` or ``"/dir"``.

    Both kinds are cached per process, so the many segments a worker runs parse them once.
    """
    if not isinstance(source, str | os.PathLike):
        raise ValueError(
            f"data source must be 'bundled' or a directory of MNIST IDX files, got {source!r}"
        )
    source = os.fspath(source)
    if source == "bundled":
        return load_bundled()
    directory = source.removeprefix("idx:")
    if not directory:
        raise ValueError("data source 'idx:' names no directory; write 'idx:/path/to/mnist'")
    resolved = Path(directory).expanduser().resolve()
    if not resolved.is_dir():
        raise FileNotFoundError(
            f"data source {source!r}: {resolved} is not a directory; expected 'bundled' or a "
            "directory holding the MNIST IDX files (download_mnist(directory) fetches them)"
        )
    return _load_idx_cached(str(resolved))


@lru_cache(maxsize=1)
def load_bundled() -> MnistData:
    """The package's 10,000-digit subset: first 8,000 train, last 2,000 validation."""
    resource = resources.files("curvetune.models").joinpath("data", BUNDLED_FILE)
    with resource.open("rb") as handle, np.load(handle) as npz:
        images = np.asarray(npz["images"])
        labels = np.asarray(npz["labels"])
    _check_images_labels(images, labels, BUNDLED_FILE)
    return _make_data(
        images[:BUNDLED_TRAIN],
        labels[:BUNDLED_TRAIN],
        images[BUNDLED_TRAIN:],
        labels[BUNDLED_TRAIN:],
    )


# ----------------------------------------------------------------------------- IDX files


def load_idx(directory: str | os.PathLike[str]) -> MnistData:
    """The four standard MNIST IDX files in ``directory`` (each raw or ``.gz``).

    The ``train-*`` files make the training split and the ``t10k-*`` files the validation
    split. Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for one that is
    not the IDX data expected.
    """
    directory = Path(directory)
    splits = []
    for images_name, labels_name in (
        (IDX_TRAIN_IMAGES, IDX_TRAIN_LABELS),
        (IDX_VAL_IMAGES, IDX_VAL_LABELS),
    ):
        images_path = _find_idx(directory, images_name)
        labels_path = _find_idx(directory, labels_name)
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise ValueError(
                f"{images_path}: expected unsigned-byte images of shape (N, 28, 28), "
                f"got {images.dtype} of shape {images.shape}"
            )
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise ValueError(
                f"{labels_path}: expected a 1-d array of unsigned-byte labels, "
                f"got {labels.dtype} of shape {labels.shape}"
            )
        _check_images_labels(images, labels, f"{images_path} and {labels_path}")
        splits.append((images, labels))
    (train_x, train_y), (val_x, val_y) = splits
    return _make_data(train_x, train_y, val_x, val_y)


@lru_cache(maxsize=4)
def _load_idx_cached(directory: str) -> MnistData:
    """``load_idx`` once per resolved directory and process."""
    return load_idx(directory)


def _find_idx(directory: Path, name: str) -> Path:
    """``directory/name`` or ``directory/name.gz``, whichever exists."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"MNIST file {name!r} (raw or .gz) not found in {directory}; expected the four IDX "
        f"files {IDX_TRAIN_IMAGES}, {IDX_TRAIN_LABELS}, {IDX_VAL_IMAGES}, {IDX_VAL_LABELS} "
        "(download_mnist(directory) fetches them)"
    )


# ----------------------------------------------------------------------------- download


def download_mnist(directory: str | os.PathLike[str], base_url: str = MNIST_BASE_URL) -> Path:
    """Download the four MNIST ``.gz`` files into ``directory`` and verify their SHA-256.

    Files already there with the right checksum are kept. A download whose checksum is
    wrong is deleted and raises ``ChecksumError`` naming the file and both hashes.
    Returns the directory, ready for ``load_idx`` or ``data="idx:<directory>"``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, expected in MNIST_SHA256.items():
        target = directory / name
        if target.is_file() and sha256_of(target) == expected:
            continue
        partial = directory / f"{name}.part"
        try:
            _fetch(base_url.rstrip("/") + "/" + name, partial)
            actual = sha256_of(partial)
            if actual != expected:
                raise ChecksumError(
                    f"{name}: SHA-256 mismatch: expected {expected}, got {actual}; "
                    "the downloaded file was deleted"
                )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return directory


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, path: Path) -> None:
    """Write the bytes at ``url`` to ``path`` (the one place that touches the network)."""
    request = urllib.request.Request(url, headers={"User-Agent": "curvetune"})
    with urllib.request.urlopen(request, timeout=60) as response, path.open("wb") as out:
        shutil.copyfileobj(response, out)


# ----------------------------------------------------------------------------- helpers


def _check_images_labels(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    """Images and labels must pair up and labels must be digits."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{where}: expected images of shape (N, 28, 28), got {images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"{where}: {images.shape[0]} images but labels of shape {labels.shape}")
    if labels.size and int(labels.max()) > 9:
        raise ValueError(f"{where}: labels must be digits 0-9, found {int(labels.max())}")


def _make_data(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray
) -> MnistData:
    """Standardise the images, widen the labels and freeze the arrays."""
    return MnistData(
        train_x=_freeze(_standardise(train_x)),
        train_y=_freeze(train_y.astype(np.int64)),
        val_x=_freeze(_standardise(val_x)),
        val_y=_freeze(val_y.astype(np.int64)),
    )


def _standardise(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1] -> (x - mean) / std."""
    scaled = images.astype(np.float32) / np.float32(255.0)
    scaled -= np.float32(MNIST_MEAN)
    scaled /= np.float32(MNIST_STD)
    return scaled


def _freeze(array: np.ndarray) -> np.ndarray:
    """Contiguous and read-only: cached arrays are shared, so nobody may change them."""
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array

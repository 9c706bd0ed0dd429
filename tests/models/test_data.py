"""MNIST data loading: the bundled subset, the IDX parser and the checked download.

Nothing here touches the network: IDX files are written small and synthetic, and the
download's fetch function is replaced by one that writes known bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from curvetune.models import data as mnist_data
from curvetune.models.data import (
    MNIST_MEAN,
    MNIST_SHA256,
    MNIST_STD,
    ChecksumError,
    download_mnist,
    load_bundled,
    load_data,
    load_idx,
    read_idx,
)

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i4"): 0x0C}


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """Write ``array`` as an IDX file (big-endian header and data), gzipped if asked."""
    big = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, IDX_CODES[big.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + big.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def write_mnist_dir(directory: Path, n_train: int = 5, n_val: int = 3) -> dict[str, np.ndarray]:
    """Four small synthetic MNIST IDX files, the train pair raw and the t10k pair gzipped."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_x": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train_y": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "val_x": rng.integers(0, 256, size=(n_val, 28, 28), dtype=np.uint8),
        "val_y": rng.integers(0, 10, size=n_val, dtype=np.uint8),
    }
    write_idx(directory / "train-images-idx3-ubyte", arrays["train_x"])
    write_idx(directory / "train-labels-idx1-ubyte", arrays["train_y"])
    write_idx(directory / "t10k-images-idx3-ubyte", arrays["val_x"], gz=True)
    write_idx(directory / "t10k-labels-idx1-ubyte", arrays["val_y"], gz=True)
    return arrays


def standardised(images: np.ndarray) -> np.ndarray:
    return ((images.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD).astype(np.float32)


# ----------------------------------------------------------------------------- bundled


def test_bundled_shapes_split_and_labels() -> None:
    data = load_bundled()
    assert data.train_x.shape == (8000, 28, 28)
    assert data.val_x.shape == (2000, 28, 28)
    assert data.train_y.shape == (8000,)
    assert data.val_y.shape == (2000,)
    assert data.train_x.dtype == np.float32 and data.val_x.dtype == np.float32
    assert data.train_y.dtype == np.int64 and data.val_y.dtype == np.int64
    for labels in (data.train_y, data.val_y):
        assert labels.min() == 0 and labels.max() == 9
        assert len(np.unique(labels)) == 10
    # Standardised with the MNIST statistics: about zero mean and unit spread.
    assert abs(float(data.train_x.mean())) < 0.1
    assert 0.8 < float(data.train_x.std()) < 1.2
    assert float(data.train_x.min()) == pytest.approx(-MNIST_MEAN / MNIST_STD, abs=1e-5)


def test_bundled_split_is_first_8000_then_last_2000() -> None:
    from importlib import resources

    resource = resources.files("curvetune.models").joinpath("data", "mnist10k.npz")
    with resource.open("rb") as handle, np.load(handle) as npz:
        images, labels = npz["images"], npz["labels"]
    data = load_bundled()
    np.testing.assert_array_equal(data.train_y, labels[:8000])
    np.testing.assert_array_equal(data.val_y, labels[8000:])
    np.testing.assert_allclose(data.val_x[:3], standardised(images[8000:8003]), atol=1e-6)


def test_bundled_is_cached_and_read_only() -> None:
    assert load_bundled() is load_bundled()
    assert load_data() is load_bundled()
    assert load_data("bundled") is load_bundled()
    with pytest.raises(ValueError):
        load_bundled().train_x[0, 0, 0] = 1.0


# ----------------------------------------------------------------------------- IDX


def test_read_idx_raw_and_gz(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = write_idx(tmp_path / "a-idx3-ubyte", array)
    packed = write_idx(tmp_path / "b-idx3-ubyte", array, gz=True)
    assert packed.name.endswith(".gz")
    np.testing.assert_array_equal(read_idx(raw), array)
    np.testing.assert_array_equal(read_idx(packed), array)


def test_read_idx_big_endian_ints(tmp_path: Path) -> None:
    array = np.array([[1, -2, 70000], [3, 4, -5]], dtype=">i4")
    values = read_idx(write_idx(tmp_path / "ints", array))
    assert values.dtype.isnative
    np.testing.assert_array_equal(values, [[1, -2, 70000], [3, 4, -5]])


def test_load_idx_directory(tmp_path: Path) -> None:
    arrays = write_mnist_dir(tmp_path)
    data = load_idx(tmp_path)
    assert data.train_x.shape == (5, 28, 28) and data.val_x.shape == (3, 28, 28)
    np.testing.assert_allclose(data.train_x, standardised(arrays["train_x"]), atol=1e-6)
    np.testing.assert_allclose(data.val_x, standardised(arrays["val_x"]), atol=1e-6)
    np.testing.assert_array_equal(data.train_y, arrays["train_y"])
    np.testing.assert_array_equal(data.val_y, arrays["val_y"])
    assert data.train_y.dtype == np.int64


def test_load_data_selects_idx_directory(tmp_path: Path) -> None:
    arrays = write_mnist_dir(tmp_path)
    for source in (f"idx:{tmp_path}", str(tmp_path)):
        np.testing.assert_array_equal(load_data(source).val_y, arrays["val_y"])
    assert load_data(f"idx:{tmp_path}") is load_data(str(tmp_path))  # cached per directory


def test_load_data_rejects_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_data(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="data source"):
        load_data(42)  # type: ignore[arg-type]


def test_missing_idx_file_is_named(tmp_path: Path) -> None:
    write_mnist_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_idx(tmp_path)


def test_bad_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"\x00\x01")
    with pytest.raises(ValueError, match=r"bad.*magic number"):
        read_idx(path)


def test_unknown_type_code(tmp_path: Path) -> None:
    path = tmp_path / "code"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match="type code 0x07"):
        read_idx(path)


def test_truncated_data(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "short", np.zeros((4, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"short.*\(4, 28, 28\)"):
        read_idx(path)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 100))[:-6])
    with pytest.raises(ValueError, match=r"broken\.gz"):
        read_idx(path)


def test_wrong_image_shape_is_named(tmp_path: Path) -> None:
    write_mnist_dir(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 27, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*\(N, 28, 28\)"):
        load_idx(tmp_path)


def test_label_count_must_match(tmp_path: Path) -> None:
    write_mnist_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="5 images"):
        load_idx(tmp_path)


# ----------------------------------------------------------------------------- download


def test_known_checksums_are_sha256() -> None:
    assert set(MNIST_SHA256) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    for digest in MNIST_SHA256.values():
        assert len(digest) == 64 and int(digest, 16) >= 0


def test_checksum_mismatch_raises_and_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_fetch(url: str, path: Path) -> None:
        path.write_bytes(b"not mnist")

    monkeypatch.setattr(mnist_data, "_fetch", fake_fetch)
    actual = hashlib.sha256(b"not mnist").hexdigest()
    with pytest.raises(ChecksumError) as info:
        download_mnist(tmp_path, base_url="https://example.invalid/mnist")
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert MNIST_SHA256["train-images-idx3-ubyte.gz"] in message and actual in message
    assert isinstance(info.value, ValueError)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial one is left


def test_download_keeps_verified_files_and_skips_them_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payloads = {name: name.encode() * 3 for name in MNIST_SHA256}
    sums = {name: hashlib.sha256(body).hexdigest() for name, body in payloads.items()}
    fetched: list[str] = []

    def fake_fetch(url: str, path: Path) -> None:
        name = url.rsplit("/", 1)[1]
        fetched.append(url)
        path.write_bytes(payloads[name])

    monkeypatch.setattr(mnist_data, "MNIST_SHA256", sums)
    monkeypatch.setattr(mnist_data, "_fetch", fake_fetch)
    assert download_mnist(tmp_path, base_url="https://example.invalid/m/") == tmp_path
    assert sorted(fetched) == sorted(f"https://example.invalid/m/{name}" for name in payloads)
    for name, body in payloads.items():
        assert (tmp_path / name).read_bytes() == body
    assert not list(tmp_path.glob("*.part"))

    fetched.clear()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    download_mnist(tmp_path, base_url="https://example.invalid/m")
    assert fetched == ["https://example.invalid/m/t10k-labels-idx1-ubyte.gz"]


def test_failed_fetch_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fetch(url: str, path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError("connection reset")

    monkeypatch.setattr(mnist_data, "_fetch", failing_fetch)
    with pytest.raises(OSError, match="connection reset"):
        download_mnist(tmp_path)
    assert list(tmp_path.iterdir()) == []

"""The MNIST loader on small files written here (IDX gz and raw, mnist.npz), and the digits fallback."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from imle_solvers.datasets import (
    ImageSplits,
    find_mnist,
    load_digits,
    load_mnist,
    load_mnist_or_digits,
    read_idx,
)
from imle_solvers.errors import InvalidInputError


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes, written from the format's definition (not with read_idx's code)."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def small_mnist(rng, n_train=5, n_test=3, side=28):
    images = rng.integers(0, 256, size=(n_train + n_test, side, side), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n_train + n_test).astype(np.uint8)
    return images[:n_train], labels[:n_train], images[n_train:], labels[n_train:]


def write_idx_folder(folder, arrays, *, compress: bool, dotted: bool = False):
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    for name, array in zip(names, arrays, strict=True):
        if dotted:
            name = name.replace("-idx", ".idx")
        data = idx_bytes(array)
        if compress:
            with gzip.open(folder / (name + ".gz"), "wb") as handle:
                handle.write(data)
        else:
            (folder / name).write_bytes(data)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_every_type(tmp_path, rng, dtype, compress):
    array = (rng.normal(size=(3, 4, 2)) * 50).astype(dtype)
    path = tmp_path / ("x.idx" + (".gz" if compress else ""))
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("compress, dotted", [(False, False), (True, False), (True, True)])
def test_load_mnist_from_idx_folder(tmp_path, rng, compress, dotted):
    arrays = small_mnist(rng)
    write_idx_folder(tmp_path, arrays, compress=compress, dotted=dotted)
    data = load_mnist(tmp_path)
    assert isinstance(data, ImageSplits) and data.image_shape == (28, 28)
    for got, expected in zip((data.x_train, data.y_train, data.x_test, data.y_test), arrays, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert data.y_train.dtype == np.int64 and data.x_train.dtype == np.uint8
    pixels = data.pixels("test")
    assert pixels.shape == (3, 784) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels, arrays[2].reshape(3, -1) / 255.0, rtol=1e-6)


def test_load_mnist_from_npz_and_find_it(tmp_path, rng, monkeypatch):
    x_train, y_train, x_test, y_test = small_mnist(rng, side=8)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    data = load_mnist(path)
    np.testing.assert_array_equal(data.x_test, x_test)
    np.testing.assert_array_equal(data.y_train, y_train)
    assert data.source == str(path)

    monkeypatch.setenv("IMLE_SOLVERS_MNIST", str(path))
    assert find_mnist() == path
    np.testing.assert_array_equal(load_mnist_or_digits().x_train, x_train)


def test_no_mnist_file_falls_back_to_the_digits(tmp_path, monkeypatch):
    monkeypatch.delenv("IMLE_SOLVERS_MNIST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.keras/datasets/mnist.npz
    monkeypatch.chdir(tmp_path)  # no data/ folder
    assert find_mnist() is None
    data = load_mnist_or_digits()
    assert data.source == "sklearn digits" and data.image_shape == (8, 8)
    assert len(data.x_train) + len(data.x_test) == 1797
    assert data.x_train.max() == 255 and data.x_train.min() == 0
    # a seeded split: the same twice, and train and test together are every image once
    again = load_digits()
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert sorted(np.concatenate([data.y_train, data.y_test]).tolist()) == sorted(
        np.concatenate([again.y_train, again.y_test]).tolist())
    assert not np.array_equal(load_digits(seed=1).y_test, data.y_test)


def test_bad_files_raise_clear_errors(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_mnist(tmp_path / "missing.npz")
    arrays = small_mnist(rng)
    write_idx_folder(tmp_path, arrays, compress=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)

    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x01\x02\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(InvalidInputError, match="magic number"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(InvalidInputError, match="type code"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00\x08\x01" + (4).to_bytes(4, "big") + b"abc")
    with pytest.raises(InvalidInputError, match="expected 4 data bytes .* found 3"):
        read_idx(bad)

    npz = tmp_path / "partial.npz"
    np.savez(npz, x_train=arrays[0], y_train=arrays[1])
    with pytest.raises(InvalidInputError, match=r"missing \['x_test', 'y_test'\]"):
        load_mnist(npz)
    np.savez(npz, x_train=arrays[0], y_train=arrays[1][:2], x_test=arrays[2], y_test=arrays[3])
    with pytest.raises(InvalidInputError, match=r"train labels of shape \(5,\)"):
        load_mnist(npz)
    np.savez(npz, x_train=arrays[0].astype(np.float32), y_train=arrays[1], x_test=arrays[2], y_test=arrays[3])
    with pytest.raises(InvalidInputError, match="dtype uint8"):
        load_mnist(npz)
    with pytest.raises(InvalidInputError, match="test_fraction"):
        load_digits(test_fraction=1.5)

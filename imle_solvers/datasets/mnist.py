"""MNIST in its standard files, and scikit-learn's 8x8 digits when there is none.

Nothing is downloaded. :func:`load_mnist` reads either Keras's ``mnist.npz``
(arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``) or a folder of the
four IDX files of LeCun's distribution (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each gzipped or not; torchvision's ``MNIST/raw``
folder is one). :func:`read_idx` reads one IDX file. :func:`load_digits`
returns scikit-learn's bundled 8x8 digits (1,797 images, shipped with
scikit-learn) in the same layout, and :func:`load_mnist_or_digits` returns
MNIST when its files are found and the digits otherwise — what the discrete
VAE notebooks use so that they run offline.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError, MissingDependencyError

__all__ = ["ImageSplits", "read_idx", "load_mnist", "find_mnist", "load_digits", "load_mnist_or_digits"]

# IDX type codes (the third magic byte) and their big-endian numpy dtypes
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# per split: the file-name stems of LeCun's distribution (some mirrors write "images.idx3" for "images-idx3")
_IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ENV_VARIABLE = "IMLE_SOLVERS_MNIST"


@dataclass(frozen=True)
class ImageSplits:
    """Grey-scale images with labels, split into train and test.

    Attributes:
        x_train: uint8 ``(N, H, W)``, intensities 0 (background) to 255.
        y_train: int64 ``(N,)`` class labels.
        x_test, y_test: the same for the test split.
        source: where the data came from (a path, or ``"sklearn digits"``).

    Example:
        >>> import numpy as np
        >>> from imle_solvers.datasets import ImageSplits
        >>> data = ImageSplits(np.zeros((3, 2, 2), np.uint8), np.arange(3), np.zeros((1, 2, 2), np.uint8),
        ...                    np.zeros(1, np.int64), "made up")
        >>> data.image_shape, data.pixels("test").dtype
        ((2, 2), dtype('float32'))
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return tuple(self.x_train.shape[1:])

    def pixels(self, split: str = "train") -> np.ndarray:
        """The images of ``split`` as float32 ``(N, H * W)`` intensities in ``[0, 1]``."""
        if split not in ("train", "test"):
            raise InvalidInputError(f"ImageSplits.pixels: expected split 'train' or 'test', but found {split!r}")
        images = self.x_train if split == "train" else self.x_test
        return images.reshape(len(images), -1).astype(np.float32) / 255.0


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the format of LeCun's MNIST files), gzipped or not.

    The format: two zero bytes, a type code (``0x08`` uint8, ``0x09`` int8,
    ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the
    number of dimensions ``d``, ``d`` big-endian uint32 sizes, then the data,
    big-endian, row-major. A name ending in ``.gz`` is decompressed.

    Returns:
        The array in native byte order, of the file's shape.

    Raises:
        FileNotFoundError: no such file.
        InvalidInputError: a bad magic number or type code, or a data size
            that does not match the header (the message names the file).

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
        >>> _ = path.write_bytes(bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big") + bytes([7, 2, 1]))
        >>> read_idx(path)
        array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InvalidInputError(
            f"read_idx: {path}: expected an IDX file (magic number 0x0000TTDD), but found the bytes {raw[:4]!r}"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise InvalidInputError(
            f"read_idx: {path}: expected a type code in {[hex(c) for c in _IDX_DTYPES]}, but found {hex(code)}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InvalidInputError(f"read_idx: {path}: expected {ndim} dimension sizes, but the file ends first")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InvalidInputError(
            f"read_idx: {path}: expected {expected} data bytes for shape {shape} of {dtype.name}, "
            f"but found {len(raw) - header}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _idx_file(folder: Path, stem: str) -> Path:
    names = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise FileNotFoundError(f"load_mnist: no {stem}[.gz] in {folder} (the folder holds {present or 'nothing'})")


def _check_split(source: str, split: str, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim != 3:
        raise InvalidInputError(f"load_mnist: {source}: expected {split} images of shape (N, H, W), "
                                f"but found shape {images.shape}")
    if images.dtype != np.uint8:
        raise InvalidInputError(f"load_mnist: {source}: expected {split} images of dtype uint8, "
                                f"but found {images.dtype}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise InvalidInputError(f"load_mnist: {source}: expected {split} labels of shape ({len(images)},), "
                                f"but found shape {labels.shape}")
    return np.ascontiguousarray(images), labels.astype(np.int64)


def load_mnist(path: str | os.PathLike) -> ImageSplits:
    """Load MNIST (or any data set in its files) from ``path``; nothing is downloaded.

    Args:
        path: a ``.npz`` file with ``x_train``, ``y_train``, ``x_test``,
            ``y_test`` (Keras's ``mnist.npz``), or a folder with the IDX files
            ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each
            possibly ``.gz``; ``.idx3``/``.idx1`` after a dot also work).

    Returns:
        :class:`ImageSplits` with uint8 images ``(N, H, W)`` and int64 labels.

    Raises:
        FileNotFoundError: the file, the folder or one of its four files is missing.
        InvalidInputError: a missing array in the ``.npz``, images that are
            not uint8 ``(N, H, W)``, labels whose count differs, or a
            malformed IDX file (the message names the file).

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "mnist.npz"
        >>> images = np.zeros((4, 28, 28), np.uint8)
        >>> np.savez(path, x_train=images, y_train=np.arange(4), x_test=images[:2], y_test=np.arange(2))
        >>> data = load_mnist(path)
        >>> data.x_train.shape, data.y_test.tolist()
        ((4, 28, 28), [0, 1])
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"load_mnist: no such file or folder: {path}")
    splits = {}
    if path.is_dir():
        for split, (image_stem, label_stem) in _IDX_STEMS.items():
            images = read_idx(_idx_file(path, image_stem))
            labels = read_idx(_idx_file(path, label_stem))
            splits[split] = _check_split(str(path), split, images, labels)
    else:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [key for key in ("x_train", "y_train", "x_test", "y_test") if key not in arrays]
            if missing:
                raise InvalidInputError(
                    f"load_mnist: {path}: expected arrays x_train, y_train, x_test, y_test, "
                    f"but found {sorted(arrays.files)} (missing {missing})"
                )
            for split in ("train", "test"):
                splits[split] = _check_split(str(path), split, arrays[f"x_{split}"], arrays[f"y_{split}"])
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    return ImageSplits(x_train, y_train, x_test, y_test, str(path))


def find_mnist() -> Path | None:
    """The first MNIST location that exists, or ``None``.

    Looked up in order: the environment variable ``IMLE_SOLVERS_MNIST`` (a
    ``.npz`` file or an IDX folder), ``~/.keras/datasets/mnist.npz`` (where
    Keras keeps its download), ``data/mnist.npz``, ``data/mnist`` and
    ``data/MNIST/raw`` (torchvision's layout) under the working directory.

    Example:
        >>> import os, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "my-mnist.npz"
        >>> _ = path.write_bytes(b"")  # any file: find_mnist only looks
        >>> os.environ["IMLE_SOLVERS_MNIST"] = str(path)
        >>> find_mnist() == path
        True
        >>> del os.environ["IMLE_SOLVERS_MNIST"]
    """
    candidates = []
    if os.environ.get(ENV_VARIABLE):
        candidates.append(Path(os.environ[ENV_VARIABLE]).expanduser())
    candidates += [
        Path.home() / ".keras" / "datasets" / "mnist.npz",
        Path("data") / "mnist.npz",
        Path("data") / "mnist",
        Path("data") / "MNIST" / "raw",
    ]
    for candidate in candidates:
        if candidate.is_file() or (candidate.is_dir() and any(candidate.iterdir())):
            return candidate
    return None


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> ImageSplits:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images), split at random.

    The intensities 0-16 are rescaled to 0-255 (``round(v * 255 / 16)``) so
    that the layout is MNIST's. Needs scikit-learn (the ``notebooks`` extra:
    ``pip install 'imle-solvers[notebooks]'``); it ships the data, nothing is
    downloaded.

    Args:
        test_fraction: the share of images in the test split (in ``(0, 1)``).
        seed: the seed of the random split.

    Example:
        >>> from imle_solvers.datasets import load_digits
        >>> data = load_digits()
        >>> data.x_train.shape, data.x_test.shape, int(data.x_train.max())
        ((1348, 8, 8), (449, 8, 8), 255)
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise InvalidInputError(f"load_digits: expected test_fraction in (0, 1), but found {test_fraction!r}")
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:
        raise MissingDependencyError(
            f"load_digits needs scikit-learn ({error}); install the 'notebooks' extra: "
            "pip install 'imle-solvers[notebooks]'"
        ) from error
    digits = sklearn_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    test, train = order[:n_test], order[n_test:]
    return ImageSplits(images[train], labels[train], images[test], labels[test], "sklearn digits")


def load_mnist_or_digits(path: str | os.PathLike | None = None) -> ImageSplits:
    """MNIST from ``path`` (or :func:`find_mnist`'s location) when there is one, else :func:`load_digits`.

    Example:
        >>> from imle_solvers.datasets import load_mnist_or_digits
        >>> data = load_mnist_or_digits()  # the digits, unless an MNIST file is found
        >>> data.x_train.ndim, data.y_train.dtype.name, bool(data.pixels("test").max() <= 1.0)
        (3, 'int64', True)
    """
    if path is not None:
        return load_mnist(path)
    found = find_mnist()
    return load_digits() if found is None else load_mnist(found)

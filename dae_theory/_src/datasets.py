"""Real images, read offline: Fashion-MNIST (Debian's dataset-fashion-mnist) and scikit-learn digits.

Images are scaled to [−1, 1] (x ↦ 2x − 1, as the authors' CelebA pipeline), flattened, and
optionally centred on the mean of the returned set. Subsets are deterministic in ``seed``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from dae_theory._src import checks

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                         "sneaker", "bag", "ankle boot")
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


class ImageData(NamedTuple):
  """Flattened images.

  Attributes:
    x: (n, d) float32 images in [−1, 1] (minus ``mean`` when centred).
    labels: (n,) int32 class labels.
    mean: (d,) the mean that was subtracted (zeros when not centred).
    shape: (height, width) of one image.
    indices: (n,) positions of the images in the source split.
  """

  x: np.ndarray
  labels: np.ndarray
  mean: np.ndarray
  shape: tuple[int, int]
  indices: np.ndarray


def read_idx(path: str | os.PathLike) -> np.ndarray:
  """Reads a (gzipped) IDX file of unsigned bytes into a NumPy array."""
  opener = gzip.open if str(path).endswith(".gz") else open
  with opener(path, "rb") as f:
    data = f.read()
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
    raise ValueError(f"{path} is not an IDX file of unsigned bytes")
  ndim = data[3]
  dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
  arr = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
  if arr.size != int(np.prod(dims)):
    raise ValueError(f"{path} is truncated: header says {dims}, found {arr.size} bytes")
  return arr.reshape(dims)


def _class_ids(classes, names: Sequence[str], argname: str = "classes") -> np.ndarray | None:
  if classes is None:
    return None
  if isinstance(classes, (str, int, np.integer)):
    classes = [classes]
  ids = []
  for c in classes:
    if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
      if not 0 <= c < len(names):
        raise ValueError(f"{argname} has class index {c}; expected 0..{len(names) - 1}")
      ids.append(int(c))
    elif isinstance(c, str) and c.strip().lower() in names:
      ids.append(names.index(c.strip().lower()))
    else:
      raise ValueError(f"{argname} has unknown class {c!r}; expected an index or one of {list(names)}")
  return np.asarray(sorted(set(ids)))


def _subset(images, labels, *, classes, num, seed, center, names, shape) -> ImageData:
  ids = _class_ids(classes, names)
  idx = np.arange(labels.shape[0]) if ids is None else np.flatnonzero(np.isin(labels, ids))
  if num is not None:
    num = checks.check_int("num", num)
    if num > idx.size:
      raise ValueError(f"num must be at most {idx.size} (images available for these classes), got {num}")
    idx = np.sort(np.random.default_rng(seed).permutation(idx)[:num])
  if not isinstance(center, bool):
    raise ValueError(f"center must be True or False, got {center!r}")
  x = images[idx].reshape(idx.size, -1).astype(np.float32) * (2.0 / 255.0) - 1.0
  mean = x.mean(axis=0) if center else np.zeros(x.shape[1], np.float32)
  return ImageData(x - mean, labels[idx].astype(np.int32), mean.astype(np.float32), shape, idx)


def _check_root(root) -> Path:
  if root is None:
    return FASHION_MNIST_DIR
  if not isinstance(root, (str, os.PathLike)):
    raise ValueError(f"root must be a folder path (str or os.PathLike), got {type(root).__name__}")
  return Path(root)


def _check_subset_args(classes, num, seed, center, names: Sequence[str]) -> None:
  """The subset arguments, checked before any file is read."""
  _class_ids(classes, names)
  if num is not None:
    checks.check_int("num", num)
  checks.check_seed("seed", seed)
  if not isinstance(center, bool):
    raise ValueError(f"center must be True or False, got {center!r}")


def fashion_mnist_available(root: str | os.PathLike | None = None) -> bool:
  root = _check_root(root)
  return all((root / f).exists() for pair in _FILES.values() for f in pair)


def load_fashion_mnist(split: str = "train", *, classes=None, num: int | None = None, seed: int = 0,
                       center: bool = False, root: str | os.PathLike | None = None) -> ImageData:
  """Fashion-MNIST from the Debian package's IDX files (28×28, d = 784; no network).

  Args:
    split: "train" (60,000 images) or "test" (10,000).
    classes: None for all, or class indices / names (case-insensitive, e.g. "sneaker",
      "ankle boot"; see ``FASHION_MNIST_CLASSES``).
    num: keep a random subset of this many images, drawn with ``seed`` (returned in source order).
    seed: seed of the subset, in [0, 2**32).
    center: subtract the mean image of the returned set.
    root: folder of the four .gz files (default /usr/share/datasets/fashion-mnist).

  Returns:
    ``ImageData`` with x in [−1, 1] (n, 784).
  """
  if split not in _FILES:
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
  _check_subset_args(classes, num, seed, center, FASHION_MNIST_CLASSES)
  root = _check_root(root)
  img_file, lab_file = (root / f for f in _FILES[split])
  if not (img_file.exists() and lab_file.exists()):
    raise FileNotFoundError(
        f"Fashion-MNIST files are missing under {root}. Install them offline with "
        f"'sudo apt-get install dataset-fashion-mnist' (or run 'make install').")
  images, labels = read_idx(img_file), read_idx(lab_file)
  return _subset(images, labels, classes=classes, num=num, seed=seed, center=center,
                 names=FASHION_MNIST_CLASSES, shape=(28, 28))


def load_digits(*, classes=None, num: int | None = None, seed: int = 0, center: bool = False) -> ImageData:
  """scikit-learn's 8×8 digits (1797 images, d = 64), bundled in its wheel; scaled to [−1, 1].

  Arguments as ``load_fashion_mnist``; classes are the digits 0–9 (or "0".."9").
  """
  _check_subset_args(classes, num, seed, center, tuple(str(i) for i in range(10)))
  try:
    from sklearn.datasets import load_digits as _sk_load_digits
  except ImportError as err:
    raise ImportError("load_digits needs scikit-learn: pip install 'dae-theory[data]'") from err
  bunch = _sk_load_digits()
  images = (bunch.images * (255.0 / 16.0)).astype(np.float32)  # 0..16 -> 0..255
  labels = bunch.target.astype(np.int32)
  return _subset(images, labels, classes=classes, num=num, seed=seed, center=center,
                 names=tuple(str(i) for i in range(10)), shape=(8, 8))

"""Dataset sources: each returns train and test arrays of one dataset.

Sources: Fashion-MNIST from Debian's `dataset-fashion-mnist` (the default),
any MNIST-layout IDX directory, CIFAR-10/100 python pickle directories, `.npz`
files and any image-classification dataset of tensorflow-datasets.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pickle
import zipfile
import zlib

import numpy as np

from advmask_tf.data.validation import check_images_and_labels
from advmask_tf.errors import InputError, MissingFileError

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
SOURCES = ("fashion_mnist", "idx", "cifar_pickle", "npz", "tfds")


@dataclasses.dataclass
class ArraySplits:
    """Train and test arrays of one dataset, already validated."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: tuple = ()

    @property
    def image_shape(self):
        return tuple(self.x_train.shape[1:])


def _validated(name, x_train, y_train, x_test, y_test, num_classes,
               class_names=()):
    x_train, y_train = check_images_and_labels(
        x_train, y_train, num_classes, f"{name} train split")
    x_test, y_test = check_images_and_labels(
        x_test, y_test, num_classes, f"{name} test split")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise InputError(
            f"{name}: train images have shape {x_train.shape[1:]} but test "
            f"images have shape {x_test.shape[1:]}; they must match."
        )
    return ArraySplits(name, x_train, y_train, x_test, y_test, num_classes,
                       tuple(class_names))


def _open_maybe_gzip(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_idx(path: str) -> np.ndarray:
    """Reads one IDX file (optionally gzipped) into a numpy array."""
    try:
        with _open_maybe_gzip(path) as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise InputError(f"{path} is damaged: it cannot be decompressed "
                         f"({type(error).__name__}: {error}).") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise InputError(f"{path} is not an IDX file (bad magic number).")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise InputError(
            f"{path}: IDX element type 0x{dtype_code:02x} is not supported; "
            "only unsigned bytes (0x08) are.")
    dims = np.frombuffer(data, ">u4", count=ndim, offset=4).astype(int)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(data) != expected:
        raise InputError(
            f"{path}: header promises shape {tuple(dims)} ({expected} bytes) "
            f"but the file has {len(data)} bytes.")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find_idx_file(directory, stem):
    for candidate in (stem, stem + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            return path
    raise MissingFileError(
        f"Missing {stem}[.gz] in {directory!r}. An MNIST-layout IDX directory "
        "holds train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz).")


def load_idx_dir(path: str, name: str = "idx", num_classes: int = 10,
                 class_names=()) -> ArraySplits:
    """Loads an MNIST-layout IDX directory (MNIST, Fashion-MNIST, KMNIST...)."""
    if not os.path.isdir(path):
        raise MissingFileError(
            f"IDX dataset directory {path!r} does not exist.")
    arrays = [read_idx(_find_idx_file(path, stem)) for stem in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
    return _validated(name, *arrays, num_classes, class_names)


def load_fashion_mnist(path: str = FASHION_MNIST_DIR) -> ArraySplits:
    """Loads Fashion-MNIST from the IDX files of Debian's package.

    >>> splits = load_fashion_mnist()
    >>> splits.x_train.shape
    (60000, 28, 28, 1)
    """
    if not os.path.isdir(path):
        raise MissingFileError(
            f"Fashion-MNIST not found in {path!r}. Install it with "
            "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or "
            "point --config.data.path at a directory holding the four "
            "Fashion-MNIST IDX files.")
    return load_idx_dir(path, "fashion_mnist", 10, FASHION_MNIST_CLASSES)


# The only globals a CIFAR batch needs: numpy's array and dtype builders
# (under their numpy 1 and numpy 2 module names) and the codec Python 3
# uses for bytes in protocol-2 pickles. Anything else - os.system, eval,
# any class - is refused, so a crafted batch cannot run code.
_CIFAR_PICKLE_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
})


class _CifarUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings and numpy arrays; refuses every other
    global a pickle names."""

    def find_class(self, module, name):
        if (module, name) in _CIFAR_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"it names {module}.{name}, which a CIFAR batch never needs "
            "(only numpy arrays, lists and strings are read)")


def _unpickle(path, keys=()):
    """Reads one CIFAR pickle with `_CifarUnpickler`: a dict holding `keys`.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "data_batch_1")
    >>> with open(path, "wb") as f:
    ...     pickle.dump({"data": np.zeros((1, 3072), np.uint8),
    ...                  "labels": [3]}, f)
    >>> _unpickle(path, ("data", "labels"))["labels"]
    [3]
    """
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, KeyError) as error:
        raise InputError(f"{path} is damaged or not a CIFAR pickle: "
                         f"{error}.") from None
    if not isinstance(batch, dict):
        raise InputError(f"{path}: a CIFAR pickle holds a dict, not a "
                         f"{type(batch).__name__}.")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v
             for k, v in batch.items()}
    missing = [k for k in keys if k not in batch]
    if missing:
        raise InputError(f"{path}: missing {missing}; a CIFAR batch holds "
                         f"{list(keys)} (found {sorted(map(str, batch))}).")
    if "data" in keys:
        data = np.asarray(batch["data"])
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise InputError(
                f"{path}: 'data' has shape {data.shape}; a CIFAR batch holds "
                "rows of 3072 values (3 x 32 x 32, channels first).")
    return batch


def load_cifar_pickle_dir(path: str) -> ArraySplits:
    """Loads the python-pickle release of CIFAR-10 or CIFAR-100."""
    if not os.path.isdir(path):
        raise MissingFileError(
            f"CIFAR directory {path!r} does not exist. Download and extract "
            "cifar-10-python.tar.gz or cifar-100-python.tar.gz from "
            "https://www.cs.toronto.edu/~kriz/cifar.html.")

    def images_of(batch):
        return np.asarray(batch["data"], np.uint8).reshape(
            -1, 3, 32, 32).transpose(0, 2, 3, 1)

    if os.path.exists(os.path.join(path, "data_batch_1")):
        batches = [_unpickle(os.path.join(path, f"data_batch_{i}"),
                             ("data", "labels")) for i in range(1, 6)]
        test = _unpickle(os.path.join(path, "test_batch"),
                         ("data", "labels"))
        x_train = np.concatenate([images_of(b) for b in batches])
        y_train = np.concatenate([b["labels"] for b in batches])
        meta = os.path.join(path, "batches.meta")
        names = (_unpickle(meta, ("label_names",))["label_names"]
                 if os.path.exists(meta) else ())
        return _validated("cifar10", x_train, y_train, images_of(test),
                          test["labels"], 10, names)
    if os.path.exists(os.path.join(path, "train")):
        fields = ("data", "fine_labels")
        train = _unpickle(os.path.join(path, "train"), fields)
        test = _unpickle(os.path.join(path, "test"), fields)
        meta = os.path.join(path, "meta")
        names = (_unpickle(meta, ("fine_label_names",))["fine_label_names"]
                 if os.path.exists(meta) else ())
        return _validated("cifar100", images_of(train), train["fine_labels"],
                          images_of(test), test["fine_labels"], 100, names)
    raise MissingFileError(
        f"{path!r} holds neither CIFAR-10 (data_batch_1..5, test_batch) nor "
        "CIFAR-100 (train, test) python pickles.")


def load_npz(path: str, num_classes: int | None = None) -> ArraySplits:
    """Loads `x_train, y_train, x_test, y_test` from one `.npz` file."""
    if not os.path.exists(path):
        raise MissingFileError(f"npz dataset {path!r} does not exist.")
    damaged = (zipfile.BadZipFile, EOFError, OSError, ValueError,
               pickle.UnpicklingError, zlib.error)
    try:
        archive = np.load(path)
    except damaged as error:
        raise InputError(f"{path} is damaged: not a readable .npz file "
                         f"({type(error).__name__}: {error}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(f"{path} is not a .npz archive (a single array); "
                         "save the four arrays with numpy.savez.")
    with archive as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise InputError(
                f"{path}: missing arrays {sorted(missing)}; an npz dataset "
                f"needs x_train, y_train, x_test, y_test (found {f.files}).")
        try:
            arrays = [f[k] for k in ("x_train", "y_train", "x_test",
                                     "y_test")]
        except damaged as error:
            raise InputError(f"{path} is damaged: an array cannot be read "
                             f"({type(error).__name__}: {error}).") from None
    for key, array in zip(("y_train", "y_test"), (arrays[1], arrays[3])):
        if array.size == 0:
            raise InputError(f"{path}: {key} is empty; both splits need "
                             "examples.")
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(
                array).all():
            raise InputError(f"{path}: {key} holds non-finite labels "
                             "(NaN or inf); labels must be class indices.")
    if num_classes is None:
        num_classes = int(max(np.max(arrays[1]), np.max(arrays[3]))) + 1
    name = os.path.splitext(os.path.basename(path))[0]
    return _validated(name, *arrays, num_classes)


def load_tfds(name: str, data_dir: str | None = None,
              download: bool = False) -> ArraySplits:
    """Loads an image-classification dataset of tensorflow-datasets.

    The splits are read into memory (fine for CIFAR/SVHN-sized data).
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # tfds raises several types here
        raise InputError(
            f"tensorflow-datasets has no dataset {name!r}: {error}") from error
    if download:
        builder.download_and_prepare()
    label_feature = builder.info.features["label"]
    arrays = []
    for split in ("train", "test"):
        try:
            batches = list(tfds.as_numpy(builder.as_dataset(
                split=split, as_supervised=True).batch(4096)))
        except Exception as error:
            raise MissingFileError(
                f"tensorflow-datasets could not read {name!r} split {split!r} "
                f"from data_dir={data_dir!r}: {error}. Prepare it first "
                "(--config.data.download=True on a machine with internet)."
            ) from error
        arrays.append(np.concatenate([images for images, _ in batches]))
        arrays.append(np.concatenate([labels for _, labels in batches]))
    return _validated(name, *arrays, label_feature.num_classes,
                      label_feature.names)


def load_source(source: str, path: str | None = None,
                tfds_name: str | None = None, data_dir: str | None = None,
                download: bool = False,
                num_classes: int | None = None) -> ArraySplits:
    """Loads a dataset by source name; see `SOURCES`."""
    if source == "fashion_mnist":
        return load_fashion_mnist(path or FASHION_MNIST_DIR)
    if source in ("idx", "cifar_pickle", "npz") and not path:
        raise InputError(f"data source {source!r} needs data.path.")
    if source == "idx":
        return load_idx_dir(path, num_classes=num_classes or 10)
    if source == "cifar_pickle":
        return load_cifar_pickle_dir(path)
    if source == "npz":
        return load_npz(path, num_classes)
    if source == "tfds":
        if not tfds_name:
            raise InputError("data source 'tfds' needs data.tfds_name, "
                             "for example 'cifar10'.")
        return load_tfds(tfds_name, data_dir, download)
    raise InputError(
        f"Unknown data source {source!r}; expected one of {SOURCES}.")

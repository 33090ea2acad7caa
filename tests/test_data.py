import gzip
import os
import pickle

import ml_collections
import numpy as np
import pytest

from advmask_tf.configs_lib import default_data_config
from advmask_tf.data import (
    build_data,
    check_images_and_labels,
    load_cifar_pickle_dir,
    load_idx_dir,
    load_npz,
    load_source,
    load_tfds,
    split_validation,
)
from advmask_tf.errors import InputError


def write_idx(path, array, gz=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_idx_dir(root, n_train=30, n_test=10, gz=True):
    rng = np.random.RandomState(0)
    arrays = {
        "train-images-idx3-ubyte": rng.randint(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.randint(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for name, array in arrays.items():
        write_idx(os.path.join(root, name + (".gz" if gz else "")), array, gz)
    return arrays


def test_fashion_mnist_is_the_default(fashion_mnist):
    assert fashion_mnist.x_train.shape == (60000, 28, 28, 1)
    assert fashion_mnist.x_test.shape == (10000, 28, 28, 1)
    assert fashion_mnist.num_classes == 10
    assert set(np.unique(fashion_mnist.y_train)) == set(range(10))


@pytest.mark.parametrize("gz", [True, False])
def test_idx_directory_round_trip(tmp_path, gz):
    arrays = make_idx_dir(str(tmp_path), gz=gz)
    splits = load_idx_dir(str(tmp_path))
    np.testing.assert_array_equal(
        splits.x_train[..., 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(
        splits.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_missing_fashion_mnist_names_path_and_package(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError) as error:
        load_source("fashion_mnist", path=missing)
    assert missing in str(error.value)
    assert "dataset-fashion-mnist" in str(error.value)


def test_missing_idx_file_is_named(tmp_path):
    make_idx_dir(str(tmp_path))
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_idx_dir(str(tmp_path))


def test_truncated_idx_file_is_rejected(tmp_path):
    make_idx_dir(str(tmp_path), gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="header promises"):
        load_idx_dir(str(tmp_path))


def test_cifar10_and_cifar100_pickles(tmp_path):
    rng = np.random.RandomState(1)
    c10 = tmp_path / "c10"
    c10.mkdir()
    for i in range(1, 6):
        with open(c10 / f"data_batch_{i}", "wb") as f:
            pickle.dump({"data": rng.randint(0, 256, (4, 3072), np.uint8),
                         "labels": [0, 1, 2, 9]}, f)
    with open(c10 / "test_batch", "wb") as f:
        pickle.dump({"data": rng.randint(0, 256, (3, 3072), np.uint8),
                     "labels": [3, 4, 5]}, f)
    splits = load_cifar_pickle_dir(str(c10))
    assert splits.x_train.shape == (20, 32, 32, 3) and splits.num_classes == 10
    # CHW-major rows become HWC images: the first 1024 values are red.
    with open(c10 / "data_batch_1", "rb") as f:
        row = pickle.load(f)["data"][0]
    np.testing.assert_array_equal(splits.x_train[0, :, :, 0].ravel(),
                                  row[:1024])

    c100 = tmp_path / "c100"
    c100.mkdir()
    for split, n in (("train", 5), ("test", 2)):
        with open(c100 / split, "wb") as f:
            pickle.dump({"data": rng.randint(0, 256, (n, 3072), np.uint8),
                         "fine_labels": list(range(95, 95 + n))}, f)
    splits = load_cifar_pickle_dir(str(c100))
    assert splits.num_classes == 100 and splits.y_train.max() == 99


def _cifar10_dir(directory, batch):
    directory.mkdir()
    good = {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]}
    for name in [f"data_batch_{i}" for i in range(2, 6)] + ["test_batch"]:
        with open(directory / name, "wb") as f:
            pickle.dump(good, f, protocol=2)
    with open(directory / "data_batch_1", "wb") as f:
        f.write(batch)
    return str(directory)


class _RunsAShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar_pickles_are_read_without_running_code(tmp_path, protocol):
    # Every pickle protocol numpy writes CIFAR's arrays with still loads.
    good = pickle.dumps({"data": np.arange(3072, dtype=np.uint8)[None] + 1,
                         "labels": [4]}, protocol=protocol)
    splits = load_cifar_pickle_dir(_cifar10_dir(tmp_path / "good", good))
    assert splits.x_train.shape == (9, 32, 32, 3) and splits.y_train[0] == 4

    marker = tmp_path / "ran"
    crafted = pickle.dumps({"data": _RunsAShellCommand(marker),
                            "labels": [0]}, protocol=protocol)
    with pytest.raises(InputError, match=r"data_batch_1 .*names "
                       r"(posix|os)\.system") as error:
        load_cifar_pickle_dir(_cifar10_dir(tmp_path / "crafted", crafted))
    assert not marker.exists()
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("batch, message", [
    ({"labels": [0]}, r"missing \['data'\]"),
    ({"data": np.zeros((1, 1024), np.uint8), "labels": [0]},
     r"'data' has shape \(1, 1024\); .*3072"),
    ([1, 2, 3], "holds a dict, not a list"),
])
def test_a_malformed_cifar_batch_is_named(tmp_path, batch, message):
    with pytest.raises(InputError, match=message):
        load_cifar_pickle_dir(_cifar10_dir(tmp_path / "c10",
                                           pickle.dumps(batch)))


def test_npz_source(tmp_path):
    path = tmp_path / "toy.npz"
    np.savez(path, x_train=np.random.rand(6, 8, 8, 3).astype(np.float32),
             y_train=np.arange(6) % 3, x_test=np.zeros((2, 8, 8, 3)),
             y_test=[0, 2])
    splits = load_npz(str(path))
    assert splits.num_classes == 3 and splits.x_test.dtype == np.float32
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="missing arrays"):
        load_npz(str(tmp_path / "bad.npz"))


def test_tfds_source_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        splits = load_tfds("cifar10")
    assert splits.x_train.shape == (12, 32, 32, 3)
    assert splits.num_classes == 10
    assert splits.x_train.dtype == np.uint8


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((2, 3, 4, 4, 1)), [0, 1], r"shape \(2, 3, 4, 4, 1\)"),
    (np.zeros((2, 4, 4, 2)), [0, 1], "1 or 3 channels"),
    (np.zeros((2, 4, 4)), [0], r"labels must have shape \(2,\)"),
    (np.zeros((2, 4, 4), np.int32), [0, 1], "dtype int32"),
    (np.full((2, 4, 4), np.nan, np.float32), [0, 1], "non-finite pixel"),
    (np.full((2, 4, 4), np.inf, np.float32), [0, 1], "non-finite pixel"),
    (np.full((2, 4, 4), 255.0, np.float32), [0, 1], r"\[0, 1\]"),
    (np.zeros((2, 4, 4), np.uint8), [0, 10], "label 10 at position 1"),
    (np.zeros((2, 4, 4), np.uint8), [-1, 0], "label -1 at position 0"),
    (np.zeros((2, 4, 4), np.uint8), [0.5, 1.0], "must be integers"),
])
def test_bad_arrays_name_the_bad_value(images, labels, message):
    with pytest.raises(ValueError, match=message):
        check_images_and_labels(images, np.asarray(labels), 10, "demo")


def test_validation_split_is_seeded_and_disjoint():
    train, val = split_validation(100, 20, seed=3)
    again_train, again_val = split_validation(100, 20, seed=3)
    _, other_val = split_validation(100, 20, seed=4)
    np.testing.assert_array_equal(val, again_val)
    assert not set(train) & set(val) and len(train) + len(val) == 100
    assert set(val) != set(other_val)
    with pytest.raises(ValueError, match="validation size 100"):
        split_validation(100, 100, seed=0)


def test_pipeline_carries_indices_and_pixels_in_unit_range(fashion_mnist):
    config = default_data_config()
    config.train_limit = 600
    config.validation_size = 100
    config.test_limit = 50
    bundle = build_data(config, batch_size=64, seed=0, splits=fashion_mnist)
    assert (bundle.num_train, bundle.num_validation, bundle.num_test) == (
        500, 100, 50)
    indices = []
    for features, _ in bundle.train:
        image = features["image"].numpy()
        assert image.dtype == np.float32
        assert image.min() >= 0.0 and image.max() <= 1.0
        indices.extend(features["index"].numpy().tolist())
        # the index points back at the example's training image
        first = int(features["index"][0])
        np.testing.assert_allclose(
            image[0], bundle.train_images[first] / 255.0, atol=1e-6)
    assert len(indices) == len(set(indices)) == 448  # 7 full batches of 64
    assert max(indices) < 500


def test_augmentation_for_32x32_colour(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, (64, 32, 32, 3)).astype(np.uint8)
    path = tmp_path / "colour.npz"
    np.savez(path, x_train=x, y_train=np.arange(64) % 10, x_test=x[:8],
             y_test=np.arange(8))
    config = ml_collections.ConfigDict(default_data_config().to_dict())
    config.update(source="npz", path=str(path), validation_size=0)
    bundle = build_data(config, batch_size=64, seed=0)
    features, _ = next(iter(bundle.train))
    image = features["image"].numpy()
    original = x[features["index"].numpy()] / 255.0
    assert image.shape == (64, 32, 32, 3)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert not np.allclose(image, original)  # crops/flips changed some
    test_features, _ = next(iter(bundle.test))
    np.testing.assert_allclose(test_features["image"], x[:8] / 255.0,
                               atol=1e-6)  # test data is never augmented
    config.augment = "yes"
    with pytest.raises(ValueError, match="'yes'"):
        build_data(config, batch_size=8)


def test_the_training_stream_is_a_function_of_seed_and_epoch(tmp_path):
    """Epoch e's batches (order and augmentation) are the same whether the
    stream starts at epoch 0 or at e, and each epoch visits every example
    once; another epoch or seed orders them differently."""
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, (40, 32, 32, 3)).astype(np.uint8)
    path = tmp_path / "colour.npz"
    np.savez(path, x_train=x, y_train=np.arange(40) % 10, x_test=x[:8],
             y_test=np.arange(8))
    config = ml_collections.ConfigDict(default_data_config().to_dict())
    config.update(source="npz", path=str(path), validation_size=0)

    def epochs(bundle, first, count):
        batches = list(bundle.train_from(first).take(
            count * bundle.steps_per_epoch))
        return [np.concatenate([f[key].numpy() for f, _ in batches])
                for key in ("index", "image")]

    bundle = build_data(config, batch_size=10, seed=3)
    assert bundle.steps_per_epoch == 4
    whole_index, whole_image = epochs(bundle, 0, 3)
    resumed_index, resumed_image = epochs(bundle, 2, 1)
    np.testing.assert_array_equal(resumed_index, whole_index[80:])
    np.testing.assert_array_equal(resumed_image, whole_image[80:])
    for epoch in range(3):
        assert sorted(whole_index[40 * epoch:40 * (epoch + 1)]) == list(
            range(40))
    assert not np.array_equal(whole_index[:40], whole_index[40:80])
    other_seed = build_data(config, batch_size=10, seed=4)
    assert not np.array_equal(epochs(other_seed, 0, 1)[0], whole_index[:40])


def test_unknown_source_is_named():
    with pytest.raises(ValueError, match="'mnist3'"):
        load_source("mnist3")

"""Specification of nn/data/: dataset files, downloads, CIFAR-10 pickles, batching, augmentation.

The real MNIST / Fashion-MNIST files come from the shared data folder (`AUTOGRAD_DATA`, else
`<repo>/../shared/data`). Downloads are tested against an HTTP server on 127.0.0.1 that serves
copies of those files, so no test needs the internet. CIFAR-10 files are written by the tests in
the exact layout of the official "python version".
"""

from __future__ import annotations

import collections
import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import re
import shutil
import socket
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nn.data import (
    DataLoader,
    DatasetError,
    channel_stats,
    data_root,
    load_cifar10,
    load_fashion_mnist,
    load_split,
    normalize,
    random_crop,
    random_horizontal_flip,
    read_idx,
    sources,
)

REPO = Path(__file__).resolve().parents[2]
MNIST_TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ----------------------------------------------------------------------------------------------
# The shared folder of real files
# ----------------------------------------------------------------------------------------------


def _shared_data_dir() -> Path | None:
    from_env = os.environ.get("AUTOGRAD_DATA", "")
    candidate = Path(from_env) if from_env else REPO.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="module")
def shared() -> Path:
    folder = _shared_data_dir()
    if folder is None:
        pytest.skip("no shared data folder: set AUTOGRAD_DATA or provide <repo>/../shared/data")
    return folder


def _require(shared: Path, relative: str) -> Path:
    path = shared / relative
    if not path.is_file():
        pytest.skip(f"{path} is not in the shared data folder")
    return path


@pytest.fixture(scope="module")
def fashion_mnist(shared):
    _require(shared, "fashion-mnist/train-images-idx3-ubyte.gz")
    return load_fashion_mnist(root=shared, download=False)


def test_fashion_mnist_loads_60000_train_and_10000_test_images_scaled_to_unit_floats(
    fashion_mnist,
):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    for x in (x_train, x_test):
        assert x.dtype == np.float32
        assert x.min() == 0.0 and x.max() == 1.0
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_mnist_test_split_loads_with_the_published_label_counts(shared):
    labels_path = _require(shared, "mnist/t10k-labels-idx1-ubyte.gz")
    images_path = _require(shared, "mnist/t10k-images-idx3-ubyte.gz")
    x, y = load_split("mnist", "test", root=shared, download=False)
    assert x.shape == (10000, 28, 28) and x.dtype == np.float32
    # Parse both files independently: an 8-byte header for labels, 16 bytes for images.
    raw_labels = np.frombuffer(gzip.decompress(labels_path.read_bytes())[8:], np.uint8)
    raw_images = np.frombuffer(gzip.decompress(images_path.read_bytes())[16:], np.uint8)
    assert np.bincount(y).tolist() == np.bincount(raw_labels).tolist() == MNIST_TEST_LABEL_COUNTS
    np.testing.assert_array_equal(y, raw_labels)
    np.testing.assert_array_equal(x, raw_images.reshape(10000, 28, 28) / np.float32(255))


def test_mnist_train_without_download_names_the_missing_images_file(shared):
    if (shared / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("the shared folder has the MNIST training images")
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz") as error:
        load_split("mnist", "train", root=shared, download=False)
    assert "load_mnist(download=True)" in str(error.value)
    assert str(shared / "mnist") in str(error.value)


# ----------------------------------------------------------------------------------------------
# Choosing the root and the dataset
# ----------------------------------------------------------------------------------------------


def test_data_root_prefers_the_argument_then_the_environment_then_the_user_cache(
    tmp_path, monkeypatch
):
    import pooch

    monkeypatch.setenv("AUTOGRAD_DATA", str(tmp_path / "from-env"))
    assert data_root(tmp_path / "given") == tmp_path / "given"
    assert data_root() == tmp_path / "from-env"
    monkeypatch.setenv("AUTOGRAD_DATA", "")  # what `make` exports when it finds no shared data
    assert data_root() == Path(pooch.os_cache("autograd-nn"))
    monkeypatch.delenv("AUTOGRAD_DATA")
    assert data_root() == Path(pooch.os_cache("autograd-nn"))


def test_unknown_dataset_or_split_is_a_value_error_listing_the_valid_names(tmp_path):
    with pytest.raises(ValueError, match="mnist, fashion-mnist, cifar10"):
        load_split("imagenet", "train", root=tmp_path, download=False)
    with pytest.raises(ValueError, match="train, test"):
        load_split("mnist", "validation", root=tmp_path, download=False)


@pytest.mark.parametrize(
    ("dataset", "missing", "loader"),
    [
        ("mnist", "train-images-idx3-ubyte.gz", "load_mnist"),
        ("fashion-mnist", "train-images-idx3-ubyte.gz", "load_fashion_mnist"),
        ("cifar10", "data_batch_1", "load_cifar10"),
    ],
)
def test_missing_file_without_download_says_which_file_and_how_to_get_it(
    tmp_path, dataset, missing, loader
):
    with pytest.raises(DatasetError, match=missing) as error:
        load_split(dataset, "train", root=tmp_path, download=False)
    assert f"{loader}(download=True)" in str(error.value)
    assert not any(tmp_path.iterdir()), "a failed load must not create files"


# ----------------------------------------------------------------------------------------------
# Downloads from a local HTTP server
# ----------------------------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; a path starting with /cut/ sends only half of the file, then hangs up."""

    def log_message(self, format, *args):  # keep the test output clean
        pass

    def do_GET(self):
        if self.path.startswith("/cut/"):
            body = (Path(self.directory) / self.path[len("/cut/") :]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        super().do_GET()


@dataclass
class Mirror:
    url: str  # http://127.0.0.1:PORT
    folder: Path  # what it serves

    def serve(self, source: Path, relative: str) -> Path:
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield Mirror(url=f"http://127.0.0.1:{server.server_address[1]}", folder=folder)
    server.shutdown()
    server.server_close()
    thread.join()


def _refusing_url() -> str:
    """A URL on a port that nothing listens on, so connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_fetches_the_mnist_test_set_and_loads_the_same_arrays_as_the_shared_copy(
    shared, mirror, tmp_path
):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        mirror.serve(_require(shared, f"mnist/{name}"), f"mnist/{name}")
    root = tmp_path / "root"

    x, y = load_split("mnist", "test", root=root, mirrors=[f"{mirror.url}/mnist/"])

    expected_x, expected_y = load_split("mnist", "test", root=shared, download=False)
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)
    downloaded = sorted(path.name for path in (root / "mnist").iterdir())
    assert downloaded == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert (
        _sha256(root / "mnist" / "t10k-images-idx3-ubyte.gz")
        == sources.SHA256["mnist"]["t10k-images-idx3-ubyte.gz"]
    )


def _root_with_mnist_test_images(shared: Path, root: Path) -> Path:
    """A data root that already has the MNIST test images, so only the small labels download."""
    (root / "mnist").mkdir(parents=True)
    images = _require(shared, "mnist/t10k-images-idx3-ubyte.gz")
    shutil.copyfile(images, root / "mnist" / images.name)
    return root


@pytest.mark.parametrize("first_mirror", ["404", "refused", "cut off"])
def test_download_falls_back_to_the_next_mirror_when_the_first_fails(
    shared, mirror, tmp_path, first_mirror
):
    labels = _require(shared, "mnist/t10k-labels-idx1-ubyte.gz")
    mirror.serve(labels, f"good/{labels.name}")
    mirror.serve(labels, labels.name)  # what /cut/ sends half of
    root = _root_with_mnist_test_images(shared, tmp_path / "root")
    failing = {
        "404": f"{mirror.url}/nothing-here/",
        "refused": _refusing_url(),
        "cut off": f"{mirror.url}/cut/",
    }[first_mirror]

    _, y = load_split("mnist", "test", root=root, mirrors=[failing, f"{mirror.url}/good/"])

    assert np.bincount(y).tolist() == MNIST_TEST_LABEL_COUNTS
    assert _sha256(root / "mnist" / labels.name) == _sha256(labels)


def test_download_cut_off_midway_leaves_no_file_with_the_official_name(shared, mirror, tmp_path):
    labels = _require(shared, "mnist/t10k-labels-idx1-ubyte.gz")
    mirror.serve(labels, labels.name)
    root = _root_with_mnist_test_images(shared, tmp_path / "root")

    with pytest.raises(DatasetError, match="Could not download t10k-labels-idx1-ubyte.gz"):
        load_split("mnist", "test", root=root, mirrors=[f"{mirror.url}/cut/"])

    assert sorted(path.name for path in (root / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz"
    ], "neither the official name nor a temporary file may be left behind"


def test_tampered_download_fails_the_checksum_and_leaves_no_file_with_the_official_name(
    shared, mirror, tmp_path
):
    labels = _require(shared, "mnist/t10k-labels-idx1-ubyte.gz")
    served = mirror.serve(labels, f"mnist/{labels.name}")
    tampered = bytearray(served.read_bytes())
    tampered[100] ^= 0xFF
    served.write_bytes(bytes(tampered))
    root = _root_with_mnist_test_images(shared, tmp_path / "root")

    with pytest.raises(DatasetError, match=r"(?s)Could not download.*SHA256 hash") as error:
        load_split("mnist", "test", root=root, mirrors=[f"{mirror.url}/mnist/"])

    assert f"{mirror.url}/mnist/{labels.name}" in str(error.value)
    assert sorted(path.name for path in (root / "mnist").iterdir()) == ["t10k-images-idx3-ubyte.gz"]


def test_a_mirror_serving_a_tampered_file_is_skipped_for_the_next_one(shared, mirror, tmp_path):
    labels = _require(shared, "mnist/t10k-labels-idx1-ubyte.gz")
    mirror.serve(labels, f"good/{labels.name}")
    mirror.folder.joinpath("bad").mkdir()
    mirror.folder.joinpath("bad", labels.name).write_bytes(gzip.compress(b"not the real labels"))
    root = _root_with_mnist_test_images(shared, tmp_path / "root")

    load_split("mnist", "test", root=root, mirrors=[f"{mirror.url}/bad/", f"{mirror.url}/good/"])

    assert _sha256(root / "mnist" / labels.name) == _sha256(labels)


def test_no_reachable_mirror_gives_an_error_listing_every_url_tried(tmp_path):
    first, second = _refusing_url(), _refusing_url()
    root = tmp_path / "root"

    with pytest.raises(DatasetError) as error:
        load_split("fashion-mnist", "test", root=root, mirrors=[first, second])

    message = str(error.value)
    assert "Could not download t10k-images-idx3-ubyte.gz from any mirror" in message
    assert first + "t10k-images-idx3-ubyte.gz" in message
    assert second + "t10k-images-idx3-ubyte.gz" in message
    assert str(root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz") in message
    assert not (root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_default_mirrors_are_https_or_known_hosts_and_end_with_a_slash():
    assert set(sources.MIRRORS) == {"mnist", "fashion-mnist", "cifar10"}
    for urls in sources.MIRRORS.values():
        assert urls and all(url.startswith(("https://", "http://")) for url in urls)
        assert all(url.endswith("/") for url in urls)
    assert "yann.lecun.com" not in " ".join(sources.MIRRORS["mnist"])


# ----------------------------------------------------------------------------------------------
# IDX files: parsing and every way they can be broken
# ----------------------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array in the IDX format (magic 2049 for 1-d labels, 2051 for 3-d images)."""
    if magic is None:
        magic = {1: 2049, 3: 2051}[array.ndim]
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_gz(path: Path, raw: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw))
    return path


def test_read_idx_decodes_images_and_labels(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    labels = np.array([3, 9, 0], dtype=np.uint8)
    np.testing.assert_array_equal(
        read_idx(_write_gz(tmp_path / "i.gz", _idx_bytes(images))), images
    )
    np.testing.assert_array_equal(
        read_idx(_write_gz(tmp_path / "l.gz", _idx_bytes(labels))), labels
    )


def test_read_idx_rejects_a_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(_idx_bytes(np.zeros((5, 28, 28), np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DatasetError, match=re.escape(str(path)) + ".*truncated"):
        read_idx(path)


def test_read_idx_rejects_a_file_that_is_not_gzip(tmp_path):
    path = tmp_path / "plain.gz"
    path.write_bytes(_idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DatasetError, match="not a complete gzip file"):
        read_idx(path)


def test_read_idx_rejects_a_payload_shorter_than_its_header_announces(tmp_path):
    raw = _idx_bytes(np.zeros((10, 28, 28), np.uint8))
    path = _write_gz(tmp_path / "short.gz", raw[:-784])  # a valid gzip of 9.0 images, not 10
    with pytest.raises(DatasetError, match=r"announces shape \(10, 28, 28\).*truncated"):
        read_idx(path)


def test_read_idx_rejects_bytes_after_the_announced_payload(tmp_path):
    path = _write_gz(tmp_path / "long.gz", _idx_bytes(np.zeros(4, np.uint8)) + b"\x00")
    with pytest.raises(DatasetError, match="extra bytes"):
        read_idx(path)


def test_read_idx_rejects_a_header_cut_short(tmp_path):
    path = _write_gz(tmp_path / "header.gz", (2051).to_bytes(4, "big") + (10).to_bytes(4, "big"))
    with pytest.raises(DatasetError, match="ends inside its header"):
        read_idx(path)


@pytest.mark.parametrize("magic", [0, 2050, 2052, 0x0D0803])
def test_read_idx_rejects_a_wrong_magic_number(tmp_path, magic):
    path = _write_gz(tmp_path / "magic.gz", _idx_bytes(np.zeros(4, np.uint8), magic=magic))
    with pytest.raises(DatasetError, match=f"magic number {magic}, expected 2049"):
        read_idx(path)


def _install_mnist_test_files(root, images, labels, monkeypatch) -> tuple[Path, Path]:
    """Write MNIST-named test files and register their hashes, as if they were the official ones.

    This gets past the checksum, so what is tested is the validation that comes after it.
    """
    paths = []
    for name, array in zip(sources.IDX_FILES["test"], (images, labels), strict=True):
        path = _write_gz(root / "mnist" / name, _idx_bytes(array))
        monkeypatch.setitem(sources.SHA256["mnist"], name, _sha256(path))
        paths.append(path)
    return paths[0], paths[1]


def test_load_split_accepts_consistent_files_whose_checksum_matches(tmp_path, monkeypatch):
    images = np.full((3, 28, 28), 255, np.uint8)
    _install_mnist_test_files(tmp_path, images, np.array([0, 9, 4], np.uint8), monkeypatch)
    x, y = load_split("mnist", "test", root=tmp_path, download=False)
    assert x.shape == (3, 28, 28) and np.all(x == 1.0)
    assert y.tolist() == [0, 9, 4] and y.dtype == np.int64


def test_load_split_rejects_image_and_label_counts_that_disagree(tmp_path, monkeypatch):
    images = np.zeros((3, 28, 28), np.uint8)
    _install_mnist_test_files(tmp_path, images, np.array([0, 1], np.uint8), monkeypatch)
    with pytest.raises(DatasetError, match="has 3 images but .* has 2 labels"):
        load_split("mnist", "test", root=tmp_path, download=False)


def test_load_split_rejects_labels_outside_0_to_9(tmp_path, monkeypatch):
    images = np.zeros((2, 28, 28), np.uint8)
    _install_mnist_test_files(tmp_path, images, np.array([0, 10], np.uint8), monkeypatch)
    with pytest.raises(DatasetError, match="labels from 0 to 10, outside 0..9"):
        load_split("mnist", "test", root=tmp_path, download=False)


def test_load_split_rejects_images_that_are_not_28_by_28(tmp_path, monkeypatch):
    images = np.zeros((2, 32, 32), np.uint8)
    _install_mnist_test_files(tmp_path, images, np.array([0, 1], np.uint8), monkeypatch)
    with pytest.raises(DatasetError, match="not 28x28"):
        load_split("mnist", "test", root=tmp_path, download=False)


@pytest.mark.parametrize("damage", ["truncated", "one byte changed", "not even gzip"])
def test_a_corrupt_local_file_fails_its_checksum_even_with_download_allowed(
    tmp_path, damage, monkeypatch
):
    images = np.zeros((2, 28, 28), np.uint8)
    _, labels_path = _install_mnist_test_files(
        tmp_path, images, np.array([0, 1], np.uint8), monkeypatch
    )
    content = labels_path.read_bytes()
    labels_path.write_bytes(
        {
            "truncated": content[:-5],
            "one byte changed": content[:-1] + bytes([content[-1] ^ 1]),
            "not even gzip": b"hello",
        }[damage]
    )
    with pytest.raises(DatasetError, match="corrupt or not the official file") as error:
        load_split("mnist", "test", root=tmp_path, download=True, mirrors=[_refusing_url()])
    assert str(labels_path) in str(error.value)
    assert "Delete it" in str(error.value)


# ----------------------------------------------------------------------------------------------
# CIFAR-10
# ----------------------------------------------------------------------------------------------

CIFAR_CLASSES = [b"airplane", b"automobile", b"bird", b"cat", b"deer"] + [
    b"dog",
    b"frog",
    b"horse",
    b"ship",
    b"truck",
]


def _cifar_batch(data_rows: np.ndarray, labels, label: str) -> dict:
    """A batch in the official layout: byte-string keys, uint8 rows of 3072, a list of labels."""
    return {
        b"batch_label": label.encode(),
        b"labels": [int(value) for value in labels],
        b"data": data_rows,
        b"filenames": [f"image_{i}.png".encode() for i in range(len(labels))],
    }


def _dump(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        pickle.dump(obj, file, protocol=2)  # the protocol of the published files


def _write_cifar(folder: Path, per_batch: int = 4, seed: int = 0) -> dict[str, tuple]:
    """Write data_batch_1..5, test_batch and batches.meta of random images; return their arrays."""
    rng = np.random.default_rng(seed)
    written = {}
    for name in (*sources.CIFAR_BATCHES["train"], "test_batch"):
        rows = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch)
        _dump(_cifar_batch(rows, labels, f"batch {name}"), folder / name)
        written[name] = (rows, labels)
    meta = {b"num_cases_per_batch": per_batch, b"label_names": CIFAR_CLASSES, b"num_vis": 3072}
    _dump(meta, folder / "batches.meta")
    return written


def test_load_cifar10_returns_channel_first_float_images_and_int_labels(tmp_path):
    written = _write_cifar(tmp_path / "cifar-10-batches-py", per_batch=4)

    (x_train, y_train), (x_test, y_test) = load_cifar10(root=tmp_path, download=False)

    assert x_train.shape == (20, 3, 32, 32) and x_test.shape == (4, 3, 32, 32)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    train_rows = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    train_labels = np.concatenate([written[f"data_batch_{i}"][1] for i in range(1, 6)])
    np.testing.assert_array_equal(x_train, train_rows.reshape(20, 3, 32, 32) / np.float32(255))
    np.testing.assert_array_equal(y_train, train_labels)
    np.testing.assert_array_equal(y_test, written["test_batch"][1])


def test_cifar_rows_are_red_then_green_then_blue_planes_in_row_major_order(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    row = np.zeros((1, 3072), np.uint8)
    row[0, 0] = 255  # red, row 0, column 0
    row[0, 1024 + 5 * 32 + 7] = 51  # green, row 5, column 7
    row[0, 2048 + 31 * 32 + 30] = 102  # blue, row 31, column 30
    _dump(_cifar_batch(row, [6], "testing batch 1 of 1"), folder / "test_batch")

    x, y = load_split("cifar10", "test", root=tmp_path, download=False)

    expected = np.zeros((1, 3, 32, 32), np.float32)
    expected[0, 0, 0, 0] = 1.0
    expected[0, 1, 5, 7] = np.float32(51) / 255
    expected[0, 2, 31, 30] = np.float32(102) / 255
    np.testing.assert_array_equal(x, expected)
    assert y.tolist() == [6]


def test_cifar_batch_pickled_by_numpy_1_with_its_old_module_names_loads(tmp_path):
    rows = np.arange(2 * 3072).reshape(2, 3072).astype(np.uint8)
    raw = pickle.dumps(_cifar_batch(rows, [3, 8], "testing batch"), protocol=2)
    # NumPy 2 writes numpy._core.multiarray; the published files name numpy.core.multiarray.
    raw = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(raw)

    x, y = load_split("cifar10", "test", root=tmp_path, download=False)

    np.testing.assert_array_equal(x, rows.reshape(2, 3, 32, 32) / np.float32(255))
    assert y.tolist() == [3, 8]


class _MakesDirectory:
    """Unpickling this calls os.mkdir(path): a harmless stand-in for running any code."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


def test_cifar_batch_with_a_code_running_global_is_refused_before_running_it(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    marker = tmp_path / "payload-ran"
    batch = _cifar_batch(np.zeros((1, 3072), np.uint8), [0], "test")
    batch[b"batch_label"] = _MakesDirectory(marker)
    _dump(batch, folder / "test_batch")

    with pytest.raises(DatasetError, match=r"refers to \w+\.mkdir") as error:
        load_split("cifar10", "test", root=tmp_path, download=False)

    assert str(folder / "test_batch") in str(error.value)
    assert not marker.exists(), "the forbidden callable must never run"
    # The file really does carry a working payload: a plain pickle.load runs it.
    with open(folder / "test_batch", "rb") as file:
        pickle.load(file, encoding="bytes")
    assert marker.exists()


def test_cifar_batch_holding_any_other_class_is_refused_with_its_name(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    batch = collections.OrderedDict(_cifar_batch(np.zeros((1, 3072), np.uint8), [0], "test"))
    _dump(batch, folder / "test_batch")
    with pytest.raises(DatasetError, match=r"test_batch refers to collections\.OrderedDict"):
        load_split("cifar10", "test", root=tmp_path, download=False)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (["not", "a", "dict"], "expected a dict"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "expected a dict"),
        (_cifar_batch(np.zeros((2, 3072), np.float32), [0, 1], "t"), "2-d uint8"),
        (_cifar_batch(np.zeros((2, 3071), np.uint8), [0, 1], "t"), "3072 bytes, not 3071"),
        (_cifar_batch(np.zeros((3, 3072), np.uint8), [0, 1], "t"), "3 images but 2 labels"),
        (_cifar_batch(np.zeros((2, 3072), np.uint8), [0, 10], "t"), "outside 0..9"),
        (_cifar_batch(np.zeros((2, 3072), np.uint8), [0, -1], "t"), "outside 0..9"),
    ],
)
def test_cifar_batch_with_the_wrong_structure_is_refused(tmp_path, batch, message):
    _dump(batch, tmp_path / "cifar-10-batches-py" / "test_batch")
    with pytest.raises(DatasetError, match=re.escape(message)):
        load_split("cifar10", "test", root=tmp_path, download=False)


def test_truncated_cifar_batch_is_refused(tmp_path):
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    _dump(_cifar_batch(np.zeros((2, 3072), np.uint8), [0, 1], "t"), path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="not a readable CIFAR-10 batch"):
        load_split("cifar10", "test", root=tmp_path, download=False)


def _tar_add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def _cifar_archive(source: Path, target: Path, extra=(), skip=()) -> Path:
    """Pack the batch files in `source` like cifar-10-python.tar.gz, plus `extra` members."""
    with tarfile.open(target, "w:gz") as tar:
        for name in sources.CIFAR_MEMBERS:
            if name not in skip:
                tar.add(source / name, arcname=f"cifar-10-batches-py/{name}")
        _tar_add_bytes(tar, "cifar-10-batches-py/readme.html", b"<html></html>")
        for add in extra:
            add(tar)
    return target


def test_cifar_download_extracts_only_the_expected_files_and_removes_the_archive(
    tmp_path, mirror, monkeypatch
):
    written = _write_cifar(tmp_path / "made" / "cifar-10-batches-py")

    def escape_by_path(tar):
        _tar_add_bytes(tar, "../escaped-by-path", b"outside")
        _tar_add_bytes(tar, "cifar-10-batches-py/../../escaped-by-dots", b"outside")

    def escape_by_link(tar):
        link = tarfile.TarInfo("cifar-10-batches-py/escaped-by-link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)

    archive = _cifar_archive(
        tmp_path / "made" / "cifar-10-batches-py",
        mirror.folder / "cifar-10-python.tar.gz",
        extra=(escape_by_path, escape_by_link),
    )
    monkeypatch.setattr(sources, "CIFAR_SHA256", _sha256(archive))
    root = tmp_path / "deep" / "down" / "root"

    (x_train, y_train), (x_test, y_test) = load_cifar10(root=root, mirrors=[mirror.url])

    assert x_train.shape == (20, 3, 32, 32) and x_test.shape == (4, 3, 32, 32)
    np.testing.assert_array_equal(y_test, written["test_batch"][1])
    assert sorted(path.name for path in root.iterdir()) == ["cifar-10-batches-py"]
    assert sorted(p.name for p in (root / "cifar-10-batches-py").iterdir()) == sorted(
        sources.CIFAR_MEMBERS
    )
    assert not list(tmp_path.rglob("escaped*"))


def test_cifar_archive_whose_batch_is_a_link_is_refused(tmp_path, mirror, monkeypatch):
    _write_cifar(tmp_path / "made" / "cifar-10-batches-py")

    def batch_as_link(tar):
        link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)

    archive = _cifar_archive(
        tmp_path / "made" / "cifar-10-batches-py",
        mirror.folder / "cifar-10-python.tar.gz",
        extra=[batch_as_link],
        skip=["data_batch_1"],
    )
    monkeypatch.setattr(sources, "CIFAR_SHA256", _sha256(archive))
    with pytest.raises(DatasetError, match="data_batch_1 is not a regular file"):
        load_cifar10(root=tmp_path / "root", mirrors=[mirror.url])
    assert not (tmp_path / "root" / "cifar-10-batches-py" / "data_batch_1").exists()


def test_cifar_archive_missing_a_batch_is_refused(tmp_path, mirror, monkeypatch):
    _write_cifar(tmp_path / "made" / "cifar-10-batches-py")
    archive = _cifar_archive(
        tmp_path / "made" / "cifar-10-batches-py",
        mirror.folder / "cifar-10-python.tar.gz",
        skip=["data_batch_3"],
    )
    monkeypatch.setattr(sources, "CIFAR_SHA256", _sha256(archive))
    with pytest.raises(DatasetError, match="lacks data_batch_3"):
        load_cifar10(root=tmp_path / "root", mirrors=[mirror.url])


def test_cifar_archive_with_the_wrong_checksum_is_not_extracted(tmp_path, mirror):
    _write_cifar(tmp_path / "made" / "cifar-10-batches-py")
    _cifar_archive(tmp_path / "made" / "cifar-10-batches-py", mirror.folder / sources.CIFAR_ARCHIVE)
    root = tmp_path / "root"
    with pytest.raises(DatasetError, match="SHA256 hash of downloaded file"):
        load_cifar10(root=root, mirrors=[mirror.url])
    assert not (root / sources.CIFAR_ARCHIVE).exists()
    assert not (root / "cifar-10-batches-py").exists()


# ----------------------------------------------------------------------------------------------
# DataLoader
# ----------------------------------------------------------------------------------------------


def _numbered(n: int) -> tuple[np.ndarray, np.ndarray]:
    """x[i] is a row full of i, y[i] = i: any mix-up between x and y shows."""
    return np.repeat(np.arange(n, dtype=np.float32)[:, None], 3, axis=1), np.arange(n)


def test_dataloader_visits_every_sample_exactly_once_per_epoch_with_x_and_y_paired():
    x, y = _numbered(103)
    loader = DataLoader(x, y, batch_size=10, shuffle=True, seed=0)
    assert len(loader) == 11
    for _ in range(2):
        batches = list(loader)
        assert [len(yb) for _, yb in batches] == [10] * 10 + [3]
        seen = np.concatenate([yb for _, yb in batches])
        assert sorted(seen.tolist()) == list(range(103))
        for xb, yb in batches:
            np.testing.assert_array_equal(xb[:, 0], yb)


def test_dataloader_without_shuffle_keeps_the_dataset_order():
    x, y = _numbered(7)
    batches = list(DataLoader(x, y, batch_size=3))
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_dataloader_drop_last_skips_the_incomplete_batch():
    x, y = _numbered(103)
    loader = DataLoader(x, y, batch_size=10, shuffle=True, seed=1, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 10
    assert all(len(yb) == 10 for _, yb in batches)
    assert len(set(np.concatenate([yb for _, yb in batches]).tolist())) == 100
    assert len(DataLoader(x[:100], y[:100], batch_size=10, drop_last=True)) == 10


def test_dataloader_with_the_same_seed_repeats_the_same_epochs():
    x, y = _numbered(50)
    first = DataLoader(x, y, batch_size=8, shuffle=True, seed=42)
    second = DataLoader(x, y, batch_size=8, shuffle=True, seed=42)
    for _ in range(3):
        for (_, a), (_, b) in zip(first, second, strict=True):
            np.testing.assert_array_equal(a, b)


def test_dataloader_reshuffles_every_epoch_and_seeds_differ():
    x, y = _numbered(50)
    loader = DataLoader(x, y, batch_size=50, shuffle=True, seed=3)
    epoch_1, epoch_2 = (next(iter(loader))[1] for _ in range(2))
    assert not np.array_equal(epoch_1, epoch_2)
    other = next(iter(DataLoader(x, y, batch_size=50, shuffle=True, seed=4)))[1]
    assert not np.array_equal(epoch_1, other)


def test_dataloader_batches_are_copies_not_views_of_the_dataset():
    x, y = _numbered(10)
    xb, yb = next(iter(DataLoader(x, y, batch_size=4, shuffle=True, seed=0)))
    assert not np.shares_memory(xb, x) and not np.shares_memory(yb, y)


def test_dataloader_rejects_x_and_y_of_different_lengths():
    with pytest.raises(ValueError, match="same length, got 5 and 4"):
        DataLoader(np.zeros((5, 2)), np.zeros(4))


@pytest.mark.parametrize("batch_size", [0, -3, 2.5])
def test_dataloader_rejects_a_batch_size_that_is_not_a_positive_integer(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size=batch_size)


# ----------------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------------


def test_channel_stats_of_nchw_images_match_numpy_per_channel():
    rng = np.random.default_rng(0)
    # More images than one chunk (4096), so the chunked sums are exercised.
    x = (rng.random((5000, 3, 2, 2)) * np.array([1.0, 2.0, 3.0])[None, :, None, None]).astype(
        np.float32
    )
    mean, std = channel_stats(x)
    assert mean.shape == std.shape == (3,) and mean.dtype == std.dtype == np.float32
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, x.astype(np.float64).std(axis=(0, 2, 3)), rtol=1e-5)


def test_channel_stats_of_grey_images_is_a_single_channel():
    x = np.random.default_rng(1).random((10, 4, 4)).astype(np.float32)
    mean, std = channel_stats(x)
    assert mean.shape == std.shape == (1,)
    np.testing.assert_allclose(mean, [x.mean()], rtol=1e-6)
    np.testing.assert_allclose(std, [x.std()], rtol=1e-5)


def test_normalize_gives_each_channel_zero_mean_and_unit_std_and_keeps_float32():
    rng = np.random.default_rng(2)
    x = (rng.random((64, 3, 4, 4)) * 5 + 2).astype(np.float32)
    mean, std = channel_stats(x)
    z = normalize(x, mean, std)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
    grey = normalize(x[:, 0], mean[:1], std[:1])
    assert grey.dtype == np.float32
    np.testing.assert_allclose(grey, z[:, 0], atol=1e-6)


def test_normalize_rejects_a_wrong_number_of_channel_values():
    with pytest.raises(ValueError, match="need 1 or 3 values"):
        normalize(np.zeros((2, 3, 4, 4), np.float32), [0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(N, H, W\)"):
        normalize(np.zeros((2, 3), np.float32), 0.0, 1.0)


# ----------------------------------------------------------------------------------------------
# Augmentation
# ----------------------------------------------------------------------------------------------


def _distinct_images(n: int = 16, c: int = 3, h: int = 8, w: int = 8) -> np.ndarray:
    """Images whose pixels are all different (and nonzero), so every window is recognisable."""
    return np.arange(1, n * c * h * w + 1, dtype=np.float32).reshape(n, c, h, w)


def test_random_crop_with_padding_0_is_the_identity():
    x = _distinct_images()
    np.testing.assert_array_equal(random_crop(x, padding=0, rng=0), x)


def test_random_crop_returns_a_window_of_the_zero_padded_image_with_offsets_per_image():
    x = _distinct_images(n=32)
    out = random_crop(x, padding=2, rng=0)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = []
    for i in range(len(x)):
        matches = [
            (top, left)
            for top in range(5)
            for left in range(5)
            if np.array_equal(out[i], padded[i, :, top : top + 8, left : left + 8])
        ]
        assert len(matches) == 1, f"image {i} is not a window of its padded self"
        offsets.append(matches[0])
    assert len(set(offsets)) > 1, "each image should get its own offset"


def test_random_crop_is_reproducible_with_a_seed():
    x = _distinct_images()
    np.testing.assert_array_equal(random_crop(x, rng=7), random_crop(x, rng=7))
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(random_crop(x, rng=a), random_crop(x, rng=b))
    assert not np.array_equal(random_crop(x, rng=7), random_crop(x, rng=8))


def test_random_horizontal_flip_mirrors_exactly_the_chosen_images():
    x = _distinct_images(n=32)
    np.testing.assert_array_equal(random_horizontal_flip(x, p=1.0, rng=0), x[..., ::-1])
    np.testing.assert_array_equal(random_horizontal_flip(x, p=0.0, rng=0), x)
    out = random_horizontal_flip(x, p=0.5, rng=0)
    flipped = [np.array_equal(out[i], x[i, ..., ::-1]) for i in range(len(x))]
    kept = [np.array_equal(out[i], x[i]) for i in range(len(x))]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))
    assert any(flipped) and any(kept)


def test_random_horizontal_flip_is_reproducible_and_leaves_its_input_alone():
    x = _distinct_images()
    before = x.copy()
    np.testing.assert_array_equal(
        random_horizontal_flip(x, rng=5), random_horizontal_flip(x, rng=5)
    )
    np.testing.assert_array_equal(x, before)


def test_augmentations_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_crop(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_horizontal_flip(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="padding must be >= 0"):
        random_crop(np.zeros((2, 3, 8, 8)), padding=-1)
    with pytest.raises(ValueError, match=r"p must be a probability"):
        random_horizontal_flip(np.zeros((2, 3, 8, 8)), p=1.5)


def test_prepare_data_splits_by_seed_and_normalises_with_training_statistics_only():
    from nn.data.prepare import prepare_data
    from nn.train import TrainConfig

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(50, 4, 4), dtype=np.uint8)
    raw = (x, np.arange(50) % 10), (x[:5], np.arange(5))
    config = TrainConfig(seed=3, val_split=0.2, limit_train=40)
    data = prepare_data(raw, config)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (32, 8, 5)
    assert abs(float(data.x_train.mean())) < 1e-5  # training statistics, not all of x
    again = prepare_data(raw, config)
    assert np.array_equal(data.y_val, again.y_val) and data.in_features == 16

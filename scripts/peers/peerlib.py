"""Shared helpers for the peer benchmark programs in scripts/peers/.

Each peer prints exactly one JSON line on stdout with its figures; anything else goes to stderr.
"""

import gzip
import json
import os
import platform
import resource
import struct
import sys
import time

import numpy as np

FASHION_MNIST_DIRS = (
    os.environ.get("DLP_FASHION_MNIST", ""),
    "/usr/share/datasets/fashion-mnist",
)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def read_idx(path):
    """Reads an IDX file (optionally gzip-compressed) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise ValueError(f"{path}: not an IDX file")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=dtypes[dtype_code], offset=4 + 4 * ndim)
    return array.reshape(shape)


def _find_idx(directory, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    return None


def load_fashion_mnist(flatten=True):
    """Fashion-MNIST from Debian's dataset-fashion-mnist IDX files, as float32 in [0, 1].

    flatten=True gives (N, 784); False gives (N, 28, 28, 1) (channels_last). Labels are int64.
    """
    for directory in FASHION_MNIST_DIRS:
        if not directory:
            continue
        paths = [_find_idx(directory, s) for s in (
            "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
        if all(paths):
            break
    else:
        raise FileNotFoundError(
            "Fashion-MNIST IDX files not found in /usr/share/datasets/fashion-mnist "
            "(apt-get install dataset-fashion-mnist) or $DLP_FASHION_MNIST")
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)

    def prep(x):
        x = x.astype(np.float32) / 255.0
        return x.reshape(len(x), 784) if flatten else x.reshape(len(x), 28, 28, 1)

    return (prep(x_train), y_train.astype(np.int64)), (prep(x_test), y_test.astype(np.int64))


def data_dirs():
    """Where Keras npz datasets are looked up: $DLP_DATA, the shared data folder, ~/.keras/datasets."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [
        os.environ.get("DLP_DATA", ""),
        os.path.join(here, "..", "..", "..", "shared", "data"),
        "/work/shared/data",
        os.path.expanduser("~/.keras/datasets"),
    ]
    return [os.path.normpath(c) for c in candidates if c]


def find_data_file(name):
    for d in data_dirs():
        path = os.path.join(d, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{name} not found in {data_dirs()}")


def peak_rss_mb():
    """This process's peak resident set size, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def steady_rate(epoch_seconds, samples_per_epoch):
    """Samples/s over epochs 2.. (epoch 1 includes compilation and warm-up)."""
    steady = epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds
    return samples_per_epoch * len(steady) / sum(steady)


def machine():
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def emit(record):
    """Prints the single JSON line on stdout."""
    record.setdefault("machine", machine())
    record.setdefault("date", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    sys.stdout.write(json.dumps(record, sort_keys=False) + "\n")
    sys.stdout.flush()


def set_keras_backend(backend):
    """Sets KERAS_BACKEND; must run before keras is imported."""
    if "keras" in sys.modules:
        raise RuntimeError("keras was imported before its backend was chosen")
    os.environ["KERAS_BACKEND"] = backend


def backend_version(backend):
    import importlib.metadata as md
    name = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}[backend]
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def epoch_timer_callback(keras):
    """A Keras callback recording each epoch's wall time (perf_counter) in .seconds."""

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []
            self._start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()


def run_keras_fit(keras, model, x_train, y_train, x_test, y_test, epochs, batch_size, name, extra=None):
    """fit(verbose=0) with an epoch timer, then evaluate; returns the record to emit."""
    timer = epoch_timer_callback(keras)
    t0 = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0,
                        callbacks=[timer], shuffle=True)
    train_seconds = time.perf_counter() - t0
    results = model.evaluate(x_test, y_test, batch_size=max(batch_size, 256), verbose=0,
                             return_dict=True)
    record = {
        "system": name,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "backend_version": backend_version(keras.backend.backend()),
        "epochs": epochs,
        "batch_size": batch_size,
        "train_samples": int(len(x_train)),
        "epoch_seconds": [round(s, 4) for s in timer.seconds],
        "samples_per_second": round(steady_rate(timer.seconds, len(x_train)), 1),
        "steady_epochs": max(len(timer.seconds) - 1, 1),
        "train_seconds": round(train_seconds, 3),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "test_accuracy": float(results.get("accuracy", float("nan"))),
        "test_loss": float(results["loss"]),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if extra:
        record.update(extra)
    return record

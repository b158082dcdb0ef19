#!/usr/bin/env python3
"""Regenerates the DLPData test fixtures in this folder (run once; the outputs are committed).

    python3 Tests/DLPDataTests/Fixtures/make_fixtures.py

Needs numpy only. The Swift tests never run Python: they read the files written here.

- imdb.npz, reuters.npz: tiny datasets in Keras's exact layout (object arrays of Python lists,
  pickled by numpy; reuters's x pickled at protocol 2 as older files were), plus the expected
  outputs of keras.datasets.{imdb,reuters}.load_data for several option sets, computed by
  `keras_imdb` / `keras_reuters` below, which transcribe Keras 3's code line by line.
- numeric_stored.npz (np.savez), numeric_deflated.npz (np.savez_compressed): one array per dtype.
- ragged_arrays.npy: an object array whose elements are numpy int arrays, not lists.
- images.idx3-ubyte(.gz), labels.idx1-ubyte.gz, ints.idx2-int, floats.idx1-float: small IDX files.
- expected.json: the values all of the above should load as, numpy RandomState permutations and
  samples, and XXH64 test vectors (from libxxhash through ctypes, when available).
"""

import ctypes
import ctypes.util
import gzip
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def exact(value):
    """A float as its shortest round-trip string: some JSON parsers (Foundation's on Linux) do not
    round-trip every double, so the tests parse these strings with Double(String) instead."""
    return repr(float(value))


def object_array(lists):
    a = np.empty(len(lists), dtype=object)
    for i, x in enumerate(lists):
        a[i] = x
    return a


def remove_long_seq(maxlen, seq, label):
    new_seq, new_label = [], []
    for x, y in zip(seq, label):
        if len(x) < maxlen:
            new_seq.append(x)
            new_label.append(y)
    return new_seq, new_label


def keras_imdb(f, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
               index_from=3):
    """keras/src/datasets/imdb.py load_data, after reading the file."""
    x_train, labels_train = f["x_train"], f["y_train"]
    x_test, labels_test = f["x_test"], f["y_test"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train = x_train[indices]
    labels_train = labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test = x_test[indices]
    labels_test = labels_test[indices]
    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    elif index_from:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    else:
        x_train = [[w for w in x] for x in x_train]
        x_test = [[w for w in x] for x in x_test]
    if maxlen:
        x_train, labels_train = remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = remove_long_seq(maxlen, x_test, labels_test)
    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = len(x_train)
    return (xs[:idx], labels[:idx]), (xs[idx:], labels[idx:])


def keras_reuters(f, num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113,
                  start_char=1, oov_char=2, index_from=3):
    """keras/src/datasets/reuters.py load_data, after reading the file."""
    xs, labels = f["x"], f["y"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    xs = xs[indices]
    labels = labels[indices]
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[w + index_from for w in x] for x in xs]
    if maxlen:
        xs, labels = remove_long_seq(maxlen, xs, labels)
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = int(len(xs) * (1 - test_split))
    return (xs[:idx], labels[:idx]), (xs[idx:], labels[idx:])


def as_json(result):
    (xtr, ytr), (xte, yte) = result
    lists = lambda xs: [[int(w) for w in x] for x in xs]
    return {"x_train": lists(xtr), "y_train": [int(v) for v in ytr],
            "x_test": lists(xte), "y_test": [int(v) for v in yte]}


OPTION_SETS = [
    {},
    {"num_words": 40},
    {"num_words": 40, "skip_top": 6},
    {"maxlen": 12},
    {"num_words": 30, "oov_char": None},
    {"start_char": None, "index_from": 0},
    {"seed": 7, "index_from": 5, "start_char": 9},
]


def npy_bytes_protocol2(array):
    """An .npy file whose pickle is protocol 2, like files written by older numpy/Python."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, np.lib.format.header_data_from_array_1_0(array))
    out.write(pickle.dumps(array, protocol=2))
    return out.getvalue()


def make_sequences(rng, count, max_len, vocabulary):
    return [[int(w) for w in rng.randint(1, vocabulary, size=rng.randint(1, max_len))]
            for _ in range(count)]


def make_text_datasets(expected):
    rng = np.random.RandomState(2024)
    imdb = {
        "x_train": object_array(make_sequences(rng, 23, 18, 60)),
        "y_train": rng.randint(0, 2, size=23).astype(np.int64),
        "x_test": object_array(make_sequences(rng, 17, 18, 60)),
        "y_test": rng.randint(0, 2, size=17).astype(np.int64),
    }
    np.savez(path("imdb.npz"), **imdb)
    with np.load(path("imdb.npz"), allow_pickle=True) as f:
        expected["imdb"] = [dict(options=o, **as_json(keras_imdb(f, **o))) for o in OPTION_SETS]

    x = object_array(make_sequences(rng, 31, 16, 70))
    y = rng.randint(0, 46, size=31).astype(np.int64)
    with zipfile.ZipFile(path("reuters.npz"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", npy_bytes_protocol2(x))
        buffer = io.BytesIO()
        np.save(buffer, y)
        z.writestr("y.npy", buffer.getvalue())
    with np.load(path("reuters.npz"), allow_pickle=True) as f:
        expected["reuters"] = [dict(options=o, **as_json(keras_reuters(f, **o)))
                               for o in OPTION_SETS + [{"test_split": 0.5}]]

    ragged = object_array([np.array([5, 6, 7], dtype=np.int32), np.array([], dtype=np.int64),
                           np.array([1 << 40], dtype=">i8")])
    np.save(path("ragged_arrays.npy"), ragged, allow_pickle=True)
    expected["ragged_arrays"] = [[5, 6, 7], [], [1 << 40]]


def make_numeric(expected):
    arrays = {
        "f4": np.array([[1.5, -2.25, 3.0], [0.1, 1e30, -0.0]], dtype="<f4"),
        "f8": np.array([3.141592653589793, -1e-300, 2.5], dtype="<f8"),
        "i8": np.array([-(1 << 40), 7, 0], dtype="<i8"),
        "i4": np.array([[-5, 6], [7, 2147483647]], dtype="<i4"),
        "u1": np.arange(0, 256, 51, dtype="|u1"),
        "u2": np.array([0, 65535, 1234], dtype="<u2"),
        "b1": np.array([True, False, True]),
        "be_i4": np.array([1, -2, 300000], dtype=">i4"),
        "be_f8": np.array([0.5, -7.25], dtype=">f8"),
        "scalar": np.array(42.0, dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "layer/kernel": np.arange(6, dtype="<f4").reshape(2, 3),
    }
    np.savez(path("numeric_stored.npz"), **arrays)
    np.savez_compressed(path("numeric_deflated.npz"), **arrays)
    expected["numeric"] = {
        name: {"shape": list(a.shape), "descr": a.dtype.str,
               "values": [exact(v) for v in a.astype(np.float64).ravel()]}
        for name, a in arrays.items()
    }


def idx_bytes(type_code, array, big_endian_dtype):
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


def make_idx(expected):
    rng = np.random.RandomState(5)
    images = rng.randint(0, 256, size=(3, 4, 5)).astype(np.uint8)
    labels = np.array([3, 0, 9], dtype=np.uint8)
    raw = idx_bytes(0x08, images, ">u1")
    with open(path("images.idx3-ubyte"), "wb") as f:
        f.write(raw)
    with open(path("images.idx3-ubyte.gz"), "wb") as f:
        f.write(gzip.compress(raw, mtime=0))
    with open(path("labels.idx1-ubyte.gz"), "wb") as f:
        f.write(gzip.compress(idx_bytes(0x08, labels, ">u1"), mtime=0))
    ints = np.array([[1, -2, 3], [70000, 0, -70000]], dtype=np.int32)
    with open(path("ints.idx2-int"), "wb") as f:
        f.write(idx_bytes(0x0C, ints, ">i4"))
    floats = np.array([0.5, -1.25, 3.0e10], dtype=np.float32)
    with open(path("floats.idx1-float"), "wb") as f:
        f.write(idx_bytes(0x0D, floats, ">f4"))
    expected["idx"] = {"images": [int(v) for v in images.ravel()],
                       "labels": [int(v) for v in labels],
                       "ints": [int(v) for v in ints.ravel()],
                       "floats": [exact(v) for v in floats]}


def make_random(expected):
    permutations = []
    for seed in [0, 1, 42, 113, 12345, 2**31, 2**32 - 1]:
        for n in [0, 1, 2, 3, 10, 37, 506]:
            rng = np.random.RandomState(seed)
            indices = np.arange(n)
            rng.shuffle(indices)
            permutations.append({"seed": seed, "n": n, "permutation": [int(i) for i in indices]})
    big = []
    for seed, n in [(113, 25000), (113, 11228), (7, 100000)]:
        rng = np.random.RandomState(seed)
        indices = np.arange(n)
        rng.shuffle(indices)
        big.append({"seed": seed, "n": n, "head": [int(i) for i in indices[:16]],
                    "tail": [int(i) for i in indices[-16:]],
                    "weighted_sum": int(np.sum(indices.astype(np.int64) * np.arange(n)))})
    # Two shuffles from one generator, as imdb.load_data does for train then test.
    rng = np.random.RandomState(113)
    first, second = np.arange(25), np.arange(17)
    rng.shuffle(first)
    rng.shuffle(second)
    samples = {str(seed): [exact(v) for v in np.random.RandomState(seed).random_sample(5)]
               for seed in [0, 113, 4294967295]}
    array_seed = [exact(v) for v in np.random.RandomState([1, 2, 3]).random_sample(5)]
    expected["random"] = {"permutations": permutations, "big": big,
                          "consecutive": [[int(i) for i in first], [int(i) for i in second]],
                          "samples": samples, "array_seed_1_2_3": array_seed}


def make_xxh64(expected):
    name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return
    lib.XXH64.restype = ctypes.c_uint64
    lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    vectors = []
    data = bytes((i * 7 + 3) % 256 for i in range(200))
    for length in [0, 1, 3, 4, 7, 8, 9, 31, 32, 33, 63, 64, 100, 200]:
        for seed in [0, 113]:
            vectors.append({"length": length, "seed": seed,
                            "hash": str(lib.XXH64(data[:length], length, seed))})
    expected["xxh64"] = vectors


def main():
    expected = {}
    make_text_datasets(expected)
    make_numeric(expected)
    make_idx(expected)
    make_random(expected)
    make_xxh64(expected)
    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Synthetic IMDB-like padded sequences for the sequence benchmarks, with the standard library
only (so DLP and every peer read the same file, with or without numpy):

  scripts/bench/make-padded-sequences.py OUT.npz [--samples 12800] [--test 2560] [--maxlen 200]
                                         [--vocabulary 10000] [--seed 1]

x_train, x_test: int32 (N, maxlen), word ids in 1..vocabulary-1 padded with 0 and truncated at
the start (pad_sequences's defaults); review lengths uniform in 20..400, as IMDB's mostly are.
y_train, y_test: int32 0/1, 1 when a review holds more ids below vocabulary/20 ("frequent words")
than 36.7% of its length, about half of them (learnable, so the accuracy column means something).
"""
import argparse
import io
import struct
import zipfile


def lcg(seed):
    state = seed & 0xFFFFFFFFFFFFFFFF
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        yield state >> 33


def npy(shape, values):
    header = "{'descr': '<i4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    out = io.BytesIO()
    out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
    out.write(struct.pack(f"<{len(values)}i", *values))
    return out.getvalue()


def sequences(rng, n, maxlen, vocabulary):
    xs, ys = [], []
    for _ in range(n):
        length = 20 + next(rng) % 381
        words = [1 + next(rng) % (vocabulary - 1) if next(rng) % 3 else 1 + next(rng) % (vocabulary // 20 - 1)
                 for _ in range(length)]
        frequent = sum(1 for w in words if w < vocabulary // 20)
        ys.append(1 if frequent * 1000 > 367 * length else 0)
        kept = words[-maxlen:]
        xs.extend([0] * (maxlen - len(kept)) + kept)
    return xs, ys


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--samples", type=int, default=12800)
    p.add_argument("--test", type=int, default=2560)
    p.add_argument("--maxlen", type=int, default=200)
    p.add_argument("--vocabulary", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = lcg(a.seed)
    x_train, y_train = sequences(rng, a.samples, a.maxlen, a.vocabulary)
    x_test, y_test = sequences(rng, a.test, a.maxlen, a.vocabulary)
    with zipfile.ZipFile(a.out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x_train.npy", npy((a.samples, a.maxlen), x_train))
        z.writestr("y_train.npy", npy((a.samples,), y_train))
        z.writestr("x_test.npy", npy((a.test, a.maxlen), x_test))
        z.writestr("y_test.npy", npy((a.test,), y_test))


if __name__ == "__main__":
    main()

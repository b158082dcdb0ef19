#!/usr/bin/env python3
"""Peer: the book's IMDB sequence models (DLP's `imdb-lstm` and `imdb-conv1d` presets) with
Keras 3 on padded id sequences from an .npz (x_train, y_train, x_test, y_test; what
scripts/bench/make-padded-sequences.py writes):

  lstm    Input(maxlen, int32) -> Embedding(10000, 32) -> LSTM(32) -> Dense(1, sigmoid)
  conv1d  Input(maxlen, int32) -> Embedding(10000, 32) -> Conv1D(32, 7, relu) -> MaxPooling1D(5)
          -> Conv1D(32, 7, relu) -> GlobalMaxPooling1D -> Dense(1, sigmoid)
rmsprop, binary_crossentropy, accuracy. Prints one JSON line: steady-epoch samples/s (epoch 1
excluded), test accuracy, peak RSS.

  .venv/bin/python scripts/peers/keras_sequences.py --model lstm --backend jax --data seq.npz --epochs 3
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["lstm", "conv1d"], required=True)
    p.add_argument("--backend", choices=["jax", "torch"], default="jax")
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--vocabulary", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    peerlib.set_keras_backend(args.backend)
    import keras
    from keras import layers

    keras.utils.set_random_seed(args.seed)
    d = np.load(args.data)
    x_train, y_train, x_test, y_test = (d[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    maxlen = x_train.shape[1]
    body = {
        "lstm": lambda: [layers.LSTM(32)],
        "conv1d": lambda: [layers.Conv1D(32, 7, activation="relu"), layers.MaxPooling1D(5),
                           layers.Conv1D(32, 7, activation="relu"), layers.GlobalMaxPooling1D()],
    }[args.model]
    model = keras.Sequential([keras.Input(shape=(maxlen,), dtype="int32"), layers.Embedding(args.vocabulary, 32)]
                             + body() + [layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    record = peerlib.run_keras_fit(keras, model, x_train, y_train, x_test, y_test, args.epochs, args.batch_size,
                                   f"keras-{args.backend}",
                                   extra={"model": f"imdb-{args.model}", "params": int(model.count_params())})
    peerlib.emit(record)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Peer: the convnet of DLP's `mnist-convnet` preset on Fashion-MNIST with Keras 3:
Input (28,28,1) -> Conv2D(32,3,relu) -> MaxPooling2D(2) -> Conv2D(64,3,relu) -> MaxPooling2D(2)
-> Conv2D(64,3,relu) -> Flatten -> Dense(64,relu) -> Dense(10,softmax); rmsprop,
sparse_categorical_crossentropy, accuracy.

Prints one JSON line: steady-epoch samples/s (epoch 1 excluded), test accuracy, peak RSS.

  .venv/bin/python scripts/peers/keras_convnet.py --backend jax --epochs 3 --batch-size 64
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["jax", "torch"], default="jax")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--samples", type=int, default=0, help="use only the first N training samples")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    peerlib.set_keras_backend(args.backend)
    import keras
    from keras import layers

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = peerlib.load_fashion_mnist(flatten=False)
    if args.samples:
        x_train, y_train = x_train[: args.samples], y_train[: args.samples]

    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    record = peerlib.run_keras_fit(keras, model, x_train, y_train, x_test, y_test,
                                   args.epochs, args.batch_size, f"keras-{args.backend}",
                                   extra={"model": "mnist-convnet", "params": int(model.count_params())})
    peerlib.emit(record)


if __name__ == "__main__":
    main()

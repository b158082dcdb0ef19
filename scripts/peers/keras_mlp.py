#!/usr/bin/env python3
"""Peer: the book's MLP (784 -> Dense 512 relu -> Dense 10 softmax, rmsprop,
sparse_categorical_crossentropy, accuracy) on Fashion-MNIST with Keras 3.

Prints one JSON line: steady-epoch samples/s (epoch 1, which includes compilation, excluded),
per-epoch seconds, test accuracy, peak RSS.

  .venv/bin/python scripts/peers/keras_mlp.py --backend jax --epochs 5 --batch-size 128
  .venv/bin/python scripts/peers/keras_mlp.py --backend jax --steps-per-execution 32

--steps-per-execution N is Keras's compile(steps_per_execution=N): N training steps per call
into the compiled function (one jitted loop on JAX), its fastest setting for this small model.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["jax", "torch"], default="jax")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--samples", type=int, default=0, help="use only the first N training samples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps-per-execution", type=int, default=1,
                   help="Keras's compile(steps_per_execution=N) (default 1, Keras's default)")
    args = p.parse_args()

    peerlib.set_keras_backend(args.backend)
    import keras

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = peerlib.load_fashion_mnist(flatten=True)
    if args.samples:
        x_train, y_train = x_train[: args.samples], y_train[: args.samples]

    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=args.steps_per_execution)
    spe = args.steps_per_execution
    name = f"keras-{args.backend}" + (f"-spe{spe}" if spe != 1 else "")
    record = peerlib.run_keras_fit(keras, model, x_train, y_train, x_test, y_test,
                                   args.epochs, args.batch_size, name,
                                   extra={"model": "mnist-mlp", "steps_per_execution": spe})
    peerlib.emit(record)


if __name__ == "__main__":
    main()

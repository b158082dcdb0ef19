#!/usr/bin/env python3
"""Peer: the book's Boston Housing K-fold validation with Keras 3.

Data: boston_housing.npz (from $DLP_DATA, the shared data folder, or ~/.keras/datasets), split as
keras.datasets.boston_housing.load_data does (RandomState(113) shuffle, first 80% train).
Features normalised with the training set's mean and std (the book's way, --normalize global), or
with each fold's training partitions only (--normalize per-fold: no statistics leak from the
held-out fold, which is what `dlp kfold` does). Model: Dense(64, relu) -> Dense(64,
relu) -> Dense(1); rmsprop, mse, metrics mae. K=4 contiguous folds over the training set, 100
epochs, batch 16 (verbose=0); then a final model trained on the whole training set
(--final-epochs, the book's 130) is scored on the test set.

Prints one JSON line: per-fold validation MAE, their mean, the final test MAE, and timings.

  .venv/bin/python scripts/peers/keras_boston_kfold.py --backend jax
"""
import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402


def main():
    t_start = time.perf_counter()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["jax", "torch"], default="jax")
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--final-epochs", type=int, default=130, help="0 skips the final model")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--normalize", choices=["global", "per-fold"], default="global")
    args = p.parse_args()

    peerlib.set_keras_backend(args.backend)
    import keras
    import numpy as np

    # keras.datasets.boston_housing.load_data only reads KERAS_HOME/datasets (no paths accepted):
    # place the shared copy there when it is absent. Keras checks its sha256 on load.
    from keras.src.backend import config as keras_config
    target = os.path.join(os.path.expanduser(keras_config.keras_home()), "datasets", "boston_housing.npz")
    if not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(peerlib.find_data_file("boston_housing.npz"), target)
    (train_data, train_targets), (test_data, test_targets) = keras.datasets.boston_housing.load_data()

    raw_train = train_data
    mean = train_data.mean(axis=0)
    std = train_data.std(axis=0)
    train_data = (train_data - mean) / std
    test_data = (test_data - mean) / std

    def build_model():
        model = keras.Sequential([
            keras.Input(shape=(train_data.shape[1],)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ])
        model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
        return model

    keras.utils.set_random_seed(args.seed)
    k = args.folds
    num_val = len(train_data) // k
    fold_scores = []
    t0 = time.perf_counter()
    for i in range(k):
        val_data = train_data[i * num_val: (i + 1) * num_val]
        val_targets = train_targets[i * num_val: (i + 1) * num_val]
        partial_data = np.concatenate([train_data[: i * num_val], train_data[(i + 1) * num_val:]], axis=0)
        partial_targets = np.concatenate([train_targets[: i * num_val], train_targets[(i + 1) * num_val:]], axis=0)
        if args.normalize == "per-fold":
            raw_val = raw_train[i * num_val: (i + 1) * num_val]
            raw_partial = np.concatenate([raw_train[: i * num_val], raw_train[(i + 1) * num_val:]], axis=0)
            m, s = raw_partial.mean(axis=0), raw_partial.std(axis=0)
            partial_data, val_data = (raw_partial - m) / s, (raw_val - m) / s
        model = build_model()
        model.fit(partial_data, partial_targets, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
        val_mse, val_mae = model.evaluate(val_data, val_targets, verbose=0)
        fold_scores.append({"fold": i, "val_mae": float(val_mae), "val_mse": float(val_mse)})
        peerlib.log(f"fold {i}: val_mae {val_mae:.3f}")
    kfold_seconds = time.perf_counter() - t0

    record = {
        "system": f"keras-{args.backend}",
        "keras": keras.__version__,
        "backend_version": peerlib.backend_version(args.backend),
        "train_samples": int(len(train_data)),
        "test_samples": int(len(test_data)),
        "folds": k,
        "epochs": args.epochs,
        "normalize": args.normalize,
        "batch_size": args.batch_size,
        "fold_results": fold_scores,
        "mean_val_mae": float(np.mean([f["val_mae"] for f in fold_scores])),
        "kfold_seconds": round(kfold_seconds, 3),
    }
    if args.final_epochs:
        t1 = time.perf_counter()
        model = build_model()
        model.fit(train_data, train_targets, epochs=args.final_epochs, batch_size=args.batch_size, verbose=0)
        test_mse, test_mae = model.evaluate(test_data, test_targets, verbose=0)
        record.update({"final_epochs": args.final_epochs, "test_mae": float(test_mae),
                       "test_mse": float(test_mse), "final_seconds": round(time.perf_counter() - t1, 3)})
    record["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    peerlib.emit(record)


if __name__ == "__main__":
    main()

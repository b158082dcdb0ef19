#!/usr/bin/env python3
"""Opens a .keras file DLP wrote with Keras 3 (keras.saving.load_model) and checks that Keras
predicts what DLP predicted, and that Keras took the optimizer's state from it.

  dlp train ... --save-model m.keras
  dlp predict --model m.keras --input x.npz --output y.npz
  .venv/bin/python scripts/peers/check_dlp_keras_file.py m.keras x.npz y.npz [--tolerance 1e-5]

x.npz holds the inputs as `dlp predict` takes them (x, or one array per Input layer name); y.npz
what `dlp predict` wrote (y, or one array per output layer name). Exit status 0 when the largest
difference, relative to max(1, |y|), is within the tolerance and Keras loaded every variable without a warning.
"""
import argparse
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("inputs")
    p.add_argument("outputs")
    p.add_argument("--tolerance", type=float, default=1e-5)
    a = p.parse_args()
    import keras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(a.model)
    loading = [str(w.message) for w in caught if "variable" in str(w.message).lower() or "skipping" in str(w.message).lower()]
    xs = np.load(a.inputs)
    if len(model.inputs) == 1:
        x = xs["x"] if "x" in xs else xs[model.inputs[0].name]
    else:
        x = [xs[t._keras_history.operation.name] for t in model.inputs]
    # Reshape flat rows to the model's input shapes, as dlp predict does.
    if len(model.inputs) == 1:
        x = x.reshape((x.shape[0],) + tuple(model.inputs[0].shape[1:]))
    ys = model.predict(x, verbose=0)
    ours = np.load(a.outputs)
    if not isinstance(ys, (list, tuple)):
        ys = [ys]
    names = ["y"] if len(ys) == 1 else [t._keras_history.operation.name for t in model.outputs]
    # Relative to the outputs' size (float32 sums in a different order differ in the last bits).
    worst = max(
        float(np.max(np.abs(np.asarray(y) - ours[n]) / np.maximum(1.0, np.abs(ours[n])))) for y, n in zip(ys, names)
    )
    scale = max(float(np.max(np.abs(ours[n]))) for n in names)
    print(f"{a.model}: {model.__class__.__name__} '{model.name}', {model.count_params()} weights, "
          f"optimizer {model.optimizer.__class__.__name__ if model.optimizer else None} "
          f"iterations {int(model.optimizer.iterations.numpy()) if model.optimizer else '-'}")
    print(f"largest difference between Keras's and DLP's predictions: {worst:.3g} relative to max(1, |y|) "
          f"(tolerance {a.tolerance}; outputs up to {scale:.4g})")
    for w in loading:
        print("WARNING from Keras while loading:", w)
    ok = worst <= a.tolerance and not loading
    print("OK" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes Keras 3 files and Keras's numbers for them into Tests/Fixtures/keras_files/, which
DLP's tests read without Python (KerasFileTests, LossConfigTests, LearningRateScheduleTests).

  .venv/bin/python scripts/peers/make_keras_file_fixtures.py [--out Tests/Fixtures/keras_files]

Files (see Tests/Fixtures/keras_files/README.md):
  mlp.keras, mlp.weights.h5, mlp.io.npz             Sequential MLP (Dense, Dropout), adam, trained 3 steps
  convnet.keras, convnet.weights.h5, convnet.io.npz Conv2D + MaxPooling2D + Flatten + Dense, rmsprop
  two_branch.keras, two_branch.io.npz               two inputs, Concatenate, a Dense made first and
                                                    called last (Keras's layer order is not creation order)
  logits.keras, logits.data.npz                     Dense -> Dense(4) linear, SGD,
                                                    SparseCategoricalCrossentropy(from_logits=True), untrained;
                                                    logits.expected.json: Keras's fit history (3 full-batch epochs)
  two_outputs.keras, two_outputs.data.npz           loss per output {a: SCCE(from_logits=True), b: bce};
                                                    two_outputs.expected.json: Keras's evaluate
  expected.json                                     per file: optimizer iterations, weights-file layout
                                                    (every group and dataset with shape, dtype and attrs);
                                                    learning-rate schedules at several steps; loss values
Models are tiny (a few hundred weights) so the folder stays small.
"""
import argparse
import json
import os
import zipfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "Tests", "Fixtures", "keras_files")))
ARGS = p.parse_args()
os.environ["KERAS_BACKEND"] = "jax"
import h5py  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

os.makedirs(ARGS.out, exist_ok=True)
EXPECTED = {"keras_version": keras.__version__, "backend": keras.backend.backend(), "files": {}}


def out(name):
    return os.path.join(ARGS.out, name)


def data(shape, phase=0.0):
    n = int(np.prod(shape))
    return ((np.sin(np.linspace(0.0, 29.0, n) + phase) + 1.0) / 2.0).reshape(shape).astype(np.float32)


def labels(n, classes, phase=0.0):
    return (np.floor((np.sin(np.arange(n) * 1.7 + phase) + 1.0) / 2.0 * classes) % classes).astype(np.int32)


def layout(h5):
    """Every group and dataset of a weights file: path -> kind, shape, dtype, attrs."""
    items = {}

    def visit(name, obj):
        entry = {"attrs": {k: str(v) for k, v in obj.attrs.items()}}
        if isinstance(obj, h5py.Dataset):
            entry.update(kind="dataset", shape=list(obj.shape), dtype=str(obj.dtype))
        else:
            entry["kind"] = "group"
        items[name] = entry

    h5.visititems(visit)
    return items


def record(name, model):
    """Saves NAME.keras and records its weights layout."""
    path = out(name + ".keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        z.extract("model.weights.h5", "/tmp/kf-extract")
    with h5py.File("/tmp/kf-extract/model.weights.h5") as f:
        EXPECTED["files"][name + ".keras"] = {
            "entries": names,
            "layout": layout(f),
            "layers": [lay.name for lay in model.layers],
            "iterations": int(model.optimizer.iterations.numpy()) if model.optimizer else None,
        }


# --- mlp: Sequential, adam, trained a few steps so the optimizer has state ---------------------
keras.utils.set_random_seed(1)
mlp = keras.Sequential(
    [keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dropout(0.25), layers.Dense(3, activation="softmax")],
    name="mlp",
)
mlp.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
x = data((24, 8))
y = labels(24, 3)
mlp.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
record("mlp", mlp)
mlp.save_weights(out("mlp.weights.h5"))
with h5py.File(out("mlp.weights.h5")) as f:
    EXPECTED["files"]["mlp.weights.h5"] = {"layout": layout(f)}
xt = data((5, 8), phase=1.0)
np.savez(out("mlp.io.npz"), x=xt, y=np.asarray(mlp.predict(xt, verbose=0), np.float32))

# --- convnet ----------------------------------------------------------------------------------
keras.utils.set_random_seed(2)
conv = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ],
    name="convnet",
)
conv.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
conv.fit(data((16, 8, 8, 1)), labels(16, 3), batch_size=8, epochs=1, shuffle=False, verbose=0)
record("convnet", conv)
conv.save_weights(out("convnet.weights.h5"))
xt = data((4, 8, 8, 1), phase=0.5)
np.savez(out("convnet.io.npz"), x=xt, y=np.asarray(conv.predict(xt, verbose=0), np.float32))

# --- two branches: Keras orders layers by depth, not by creation ----------------------------
keras.utils.set_random_seed(3)
a = keras.Input((3,), name="a")
b = keras.Input((5,), name="b")
late = layers.Dense(2, activation="sigmoid", name="head")  # made first, called last
left = layers.Dense(4, activation="relu", name="left")(a)
right = layers.Dense(4, activation="relu", name="right2")(layers.Dense(6, activation="tanh", name="right1")(b))
merged = layers.Concatenate(name="merge")([left, right])
two = keras.Model([a, b], late(merged), name="two_branch")
two.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="binary_crossentropy")
two.fit([data((6, 3)), data((6, 5), 2.0)], (data((6, 2), 1.0) > 0.5).astype(np.float32), epochs=2, verbose=0)
record("two_branch", two)
at, bt = data((4, 3), 0.3), data((4, 5), 0.7)
np.savez(out("two_branch.io.npz"), a=at, b=bt, y=np.asarray(two.predict([at, bt], verbose=0), np.float32))

# --- from_logits: a loss object in the compile config, trained by Keras -----------------------
keras.utils.set_random_seed(4)
logit_model = keras.Sequential(
    [keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(4)], name="logits"
)
logit_model.compile(
    optimizer=keras.optimizers.SGD(0.5),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
xl, yl = data((16, 6), 0.2), labels(16, 4, 0.4)
logit_model.save(out("logits.keras"))  # untrained: DLP trains it the same way
hist = logit_model.fit(xl, yl, batch_size=16, epochs=3, shuffle=False, verbose=0)
np.savez(out("logits.data.npz"), x=xl, y=yl)
with open(out("logits.expected.json"), "w") as f:
    json.dump({"history": {k: [float(v) for v in vs] for k, vs in hist.history.items()}}, f, indent=1)

# --- per-output losses with arguments -------------------------------------------------------
keras.utils.set_random_seed(5)
inp = keras.Input((5,), name="x")
hidden = layers.Dense(6, activation="relu", name="hidden")(inp)
out_a = layers.Dense(4, name="a")(hidden)
out_b = layers.Dense(1, activation="sigmoid", name="b")(hidden)
two_out = keras.Model(inp, [out_a, out_b], name="two_outputs")
two_out.compile(
    optimizer="adam",
    loss={"a": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "b": "binary_crossentropy"},
    metrics={"a": ["accuracy"], "b": [keras.metrics.BinaryAccuracy(name="acc")]},
)
two_out.save(out("two_outputs.keras"))
xo, ya, yb = data((10, 5), 0.9), labels(10, 4, 1.1), (data((10, 1), 0.1) > 0.5).astype(np.float32)
np.savez(out("two_outputs.data.npz"), x=xo, a=ya, b=yb)
ev = two_out.evaluate(xo, {"a": ya, "b": yb}, batch_size=10, verbose=0, return_dict=True)
with open(out("two_outputs.expected.json"), "w") as f:
    json.dump({"evaluate": {k: float(v) for k, v in ev.items()}}, f, indent=1)

# --- learning-rate schedules, as the optimizer evaluates them ---------------------------------
S = keras.optimizers.schedules
schedules = {
    "exponential": S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5),
    "exponential_staircase": S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True),
    "piecewise": S.PiecewiseConstantDecay([5, 12], [0.1, 0.01, 0.001]),
    "cosine": S.CosineDecay(0.2, decay_steps=20, alpha=0.1),
    "cosine_warmup": S.CosineDecay(0.0, decay_steps=20, warmup_target=0.3, warmup_steps=5),
}
steps = [0, 1, 4, 5, 6, 10, 12, 13, 19, 20, 25, 40]
EXPECTED["schedules"] = {
    name: {
        "config": keras.saving.serialize_keras_object(s),
        "steps": steps,
        "rates": [float(np.asarray(s(st))) for st in steps],
    }
    for name, s in schedules.items()
}
# The optimizer's learning rate after n steps of a schedule (what fit steps with).
keras.utils.set_random_seed(6)
sched_model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
sched_model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedules["exponential"]), loss="mse")
sched_model.fit(data((12, 2)), data((12, 1), 1.0), batch_size=4, epochs=1, shuffle=False, verbose=0)
EXPECTED["schedule_optimizer"] = {
    "iterations": int(sched_model.optimizer.iterations.numpy()),
    "learning_rate": float(np.asarray(sched_model.optimizer.learning_rate)),
    "compile_config": sched_model.get_compile_config(),
}

# --- loss values Keras computes ---------------------------------------------------------------
L = keras.losses
probs_unnormalised = np.array([[0.1, 0.3, 0.1], [0.2, 0.05, 0.25]], np.float32)  # rows sum to 0.5
logits = np.array([[1.0, -0.5, 2.0], [0.3, 0.1, -1.2]], np.float32)
onehot = np.array([[0, 1, 0], [0, 0, 1]], np.float32)
sparse = np.array([1, 2], np.int32)
bin_p = np.array([[0.8, 0.3], [0.4, 0.9]], np.float32)
bin_z = np.array([[1.5, -0.7], [0.2, 2.2]], np.float32)
bin_y = np.array([[1, 0], [0, 1]], np.float32)
cases = {
    "sparse_probabilities_unnormalised": (L.SparseCategoricalCrossentropy(), sparse, probs_unnormalised),
    "sparse_logits": (L.SparseCategoricalCrossentropy(from_logits=True), sparse, logits),
    "categorical_smoothing": (L.CategoricalCrossentropy(label_smoothing=0.2), onehot, probs_unnormalised * 2),
    "categorical_logits_smoothing": (L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), onehot, logits),
    "binary_smoothing": (L.BinaryCrossentropy(label_smoothing=0.2), bin_y, bin_p),
    "binary_logits": (L.BinaryCrossentropy(from_logits=True), bin_y, bin_z),
}
EXPECTED["losses"] = {
    name: {
        "config": keras.saving.serialize_keras_object(loss),
        "y_true": y_true.tolist(),
        "y_pred": y_pred.tolist(),
        "value": float(np.asarray(loss(y_true, y_pred))),
    }
    for name, (loss, y_true, y_pred) in cases.items()
}

with open(out("expected.json"), "w") as f:
    json.dump(EXPECTED, f, indent=1, sort_keys=True)
total = sum(os.path.getsize(out(n)) for n in os.listdir(ARGS.out))
print(f"wrote {len(os.listdir(ARGS.out))} files, {total / 1024:.0f} KiB, into {ARGS.out}")

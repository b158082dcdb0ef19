#!/usr/bin/env python3
"""Generates the Keras 3 ground-truth fixtures in Tests/Fixtures/keras/ with real Keras.

  .venv/bin/python scripts/peers/make_keras_fixtures.py [--out Tests/Fixtures/keras] [--backend jax]

For every model NAME it writes (see Tests/Fixtures/keras/README.md):
  NAME.json           model.to_json() after compile (verbatim, one line, as Keras writes it)
  NAME.compile.json   model.get_compile_config(), only when to_json() lacks compile_config
  NAME.expected.json  count_params, per-layer params / weight shapes / output shapes, input and
                      output names and shapes, evaluate() results on the io batch, provenance
  NAME.weights.npz    the weights the outputs were computed with, "LAYER/WEIGHT", Keras's shapes
  NAME.io.npz         a fixed input batch (x, or one array per input name), Keras's outputs (y, or
                      one array per output name) and targets (y_true, or y_true/OUTPUT)
and for the optimizer fixtures (steps_*) also
  NAME.steps.npz      weights after 1 and 2 train_on_batch steps: "step1/LAYER/WEIGHT", "step2/..."
Plus manifest.json listing every fixture and its files.

Weights: Keras's initialisers draw them (seeded), then they are rounded to multiples of 2^-8 so
that the npz files compress (the values are exact in float32; outputs are computed by Keras with
the rounded weights). Biases, which Keras initialises to zeros, are set to small non-zero values
(same rounding) so that tests see them. The steps_* fixtures use weights from a formula (below).
Inputs come from sin/linspace formulas (see input_batch), so they are deterministic.
"""
import argparse
import json
import os
import sys

import numpy as np

SEED = 1234
QUANT = 256.0  # weights are rounded to multiples of 1/QUANT


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "Tests", "Fixtures", "keras")))
    p.add_argument("--backend", default="jax", choices=["jax", "torch", "numpy"])
    return p.parse_args()


ARGS = parse_args()
os.environ["KERAS_BACKEND"] = ARGS.backend
import keras  # noqa: E402
from keras import layers, regularizers, initializers  # noqa: E402

MANIFEST = []


# --------------------------------------------------------------------------------------------
# Deterministic data


def input_batch(shape, phase=0.0, lo=-1.0, hi=1.0):
    """x = lo + (hi-lo) * (sin(linspace(0, 37, n) + phase) + 1) / 2, reshaped; float32."""
    n = int(np.prod(shape))
    v = (np.sin(np.linspace(0.0, 37.0, n) + phase) + 1.0) / 2.0
    return (lo + (hi - lo) * v).reshape(shape).astype(np.float32)


def multi_hot(batch, dim, phase):
    """x[i, j] = 1 when (7*j + 13*i + phase) % 97 == 0, else 0 (the book's imdb multi-hot look)."""
    i = np.arange(batch)[:, None]
    j = np.arange(dim)[None, :]
    return (((7 * j + 13 * i + phase) % 97) == 0).astype(np.float32)


def quantize(a):
    return (np.round(np.asarray(a, dtype=np.float64) * QUANT) / QUANT).astype(np.float32)


def set_fixture_weights(model):
    """Rounds Keras's initial weights to multiples of 2^-8; zero biases get small non-zero values."""
    for li, layer in enumerate(model.layers):
        for wi, w in enumerate(layer.weights):
            value = np.asarray(w.numpy())
            if not value.any():
                k = np.arange(value.size, dtype=np.float64)
                value = (0.05 * np.sin(0.7 * k + li + 0.3 * wi)).reshape(value.shape)
            w.assign(quantize(value))


def formula_weights(model):
    """Weights for the steps_* fixtures: w[k] = round(256 * 0.5*sin(1.3*k + 0.7*L + 0.3*W)) / 256 for
    flat index k, layer index L (in model.layers), weight index W within the layer."""
    for li, layer in enumerate(model.layers):
        for wi, w in enumerate(layer.weights):
            k = np.arange(int(np.prod(w.shape)), dtype=np.float64)
            w.assign(quantize(0.5 * np.sin(1.3 * k + 0.7 * li + 0.3 * wi)).reshape(w.shape))


# --------------------------------------------------------------------------------------------
# Recording


def weights_dict(model, prefix=""):
    out = {}
    for layer in model.layers:
        for w in layer.weights:
            key = f"{prefix}{layer.name}/{w.name}"
            if key in out:
                raise RuntimeError(f"duplicate weight name {key}")
            out[key] = np.asarray(w.numpy(), dtype=np.float32)
    return out


def shape_list(shape):
    return [None if d is None else int(d) for d in shape]


def layer_record(layer):
    rec = {
        "name": layer.name,
        "class_name": layer.__class__.__name__,
        "params": int(layer.count_params()) if layer.built else 0,
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in layer.trainable_weights)),
        "weights": [{"name": w.name, "shape": shape_list(w.shape), "trainable": bool(w.trainable)}
                    for w in layer.weights],
    }
    # Output shape per call of the layer (a shared layer is called more than once).
    shapes = []
    for node in getattr(layer, "_inbound_nodes", []):
        outs = node.outputs if isinstance(node.outputs, (list, tuple)) else [node.outputs]
        shapes.append([shape_list(t.shape) for t in outs])
    if shapes:
        rec["output_shapes"] = [s[0] if len(s) == 1 else s for s in shapes]
        rec["output_shape"] = rec["output_shapes"][0]
    return rec


def io_names(model):
    """Input names (the InputLayer names Keras keys inputs by) and output names."""
    input_names = [t._keras_history.operation.name for t in model.inputs]
    output_names = [t._keras_history.operation.name for t in model.outputs]
    return input_names, output_names


def outputs_of(model, x):
    y = model(x, training=False)
    if isinstance(y, dict):
        return {k: np.asarray(v) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return [np.asarray(v) for v in y]
    return np.asarray(y)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


def to_float(v):
    return float(np.asarray(v))


def record_fixture(name, model, x, y_true, description, json_text=None, extra=None,
                   weights="keras-initialisers-rounded", evaluate=True):
    """Writes NAME.json/.compile.json/.expected.json/.weights.npz/.io.npz for a built model."""
    out = ARGS.out
    files = []
    if json_text is None:
        json_text = model.to_json()
    doc = json.loads(json_text)
    with open(os.path.join(out, name + ".json"), "w") as f:
        f.write(json_text + "\n")
    files.append(name + ".json")
    if "compile_config" not in doc and getattr(model, "compiled", False):
        write_json(os.path.join(out, name + ".compile.json"), model.get_compile_config())
        files.append(name + ".compile.json")

    input_names, output_names = io_names(model)
    multi_in = isinstance(x, dict)
    y = outputs_of(model, x)
    io = {}
    if multi_in:
        for k, v in x.items():
            io[k] = v
    else:
        io["x"] = x
    multi_out = isinstance(y, (list, dict))
    if isinstance(y, list):
        y = dict(zip(output_names, y))
    if multi_out:
        for k, v in y.items():
            io[k] = v.astype(np.float32)
    else:
        io["y"] = y.astype(np.float32)
    if y_true is not None:
        if isinstance(y_true, dict):
            for k, v in y_true.items():
                io[f"y_true/{k}"] = v
        else:
            io["y_true"] = y_true
    np.savez_compressed(os.path.join(out, name + ".io.npz"), **io)
    files.append(name + ".io.npz")

    wd = weights_dict(model)
    np.savez_compressed(os.path.join(out, name + ".weights.npz"), **wd)
    files.append(name + ".weights.npz")

    expected = {
        "name": name,
        "description": description,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "model_class": model.__class__.__name__,
        "to_json_has_compile_config": "compile_config" in doc,
        "to_json_has_build_config": "build_config" in doc,
        "count_params": int(model.count_params()),
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "layers": [layer_record(l) for l in model.layers],
        "weight_names": list(wd.keys()),
        "inputs": [{"name": n, "shape": shape_list(t.shape)} for n, t in zip(input_names, model.inputs)],
        "outputs": [{"name": n, "shape": shape_list(t.shape)} for n, t in zip(output_names, model.outputs)],
        "io_keys": {"inputs": [k for k in io if k in (input_names if multi_in else ["x"])],
                    "outputs": list(y.keys()) if multi_out else ["y"],
                    "targets": [k for k in io if k.startswith("y_true")]},
        "batch_size": int(next(iter(x.values())).shape[0] if multi_in else x.shape[0]),
        "weights_source": weights,
    }
    if model.losses:
        expected["regularization_loss"] = to_float(sum(to_float(l) for l in model.losses))
    if evaluate and y_true is not None and getattr(model, "compiled", False):
        res = model.evaluate(x, y_true, batch_size=expected["batch_size"], verbose=0, return_dict=True)
        expected["evaluate"] = {k: to_float(v) for k, v in res.items()}
    if extra:
        expected.update(extra)
    write_json(os.path.join(out, name + ".expected.json"), expected)
    files.append(name + ".expected.json")
    return files


def fixture(name, description, kind="model"):
    def wrap(fn):
        def run():
            keras.backend.clear_session()
            keras.utils.set_random_seed(SEED)
            files = fn(name, description)
            MANIFEST.append({"name": name, "kind": kind, "description": description, "files": files})
            print(f"{name}: {', '.join(files)}", file=sys.stderr)
        run.__name__ = name
        FIXTURES.append(run)
        return run
    return wrap


FIXTURES = []


# --------------------------------------------------------------------------------------------
# (a) the book's MNIST MLP


@fixture("mnist_mlp", "The book's MNIST MLP: Input(784) -> Dense(512, relu) -> Dense(10, softmax); "
                      "rmsprop, sparse_categorical_crossentropy, accuracy (DLP preset mnist-mlp).")
def _(name, description):
    model = keras.Sequential([
        keras.Input(shape=(784,)),
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    set_fixture_weights(model)
    x = input_batch((4, 784), lo=0.0, hi=1.0)
    y_true = np.array([3, 0, 9, 5], dtype=np.int32)
    return record_fixture(name, model, x, y_true, description)


# (b) Dense with Dropout, regularisers, activations, use_bias=False, non-default initialisers


@fixture("dense_regularized", "Dense stack with Dropout(0.3), kernel_regularizer L2(0.001) and "
                              "L1L2(1e-4, 1e-3), activations tanh/sigmoid/elu/softmax, use_bias=False, "
                              "he_normal / glorot_normal / RandomUniform / Constant initialisers; adam, "
                              "categorical_crossentropy, accuracy. Outputs are inference (no dropout).")
def _(name, description):
    model = keras.Sequential([
        keras.Input(shape=(20,)),
        layers.Dense(16, activation="tanh", kernel_initializer="he_normal",
                     kernel_regularizer=regularizers.l2(0.001)),
        layers.Dropout(0.3),
        layers.Dense(12, activation="sigmoid", use_bias=False,
                     kernel_initializer=initializers.RandomUniform(-0.3, 0.3, seed=7),
                     kernel_regularizer=regularizers.l1_l2(l1=1e-4, l2=1e-3)),
        layers.Dense(8, activation="elu", kernel_initializer="glorot_normal",
                     bias_initializer=initializers.Constant(0.1)),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    set_fixture_weights(model)
    x = input_batch((5, 20), phase=0.4)
    y_true = np.eye(3, dtype=np.float32)[[0, 2, 1, 1, 0]]
    return record_fixture(name, model, x, y_true, description)


# (c) IMDB MLP


@fixture("imdb_mlp", "The book's IMDB MLP: Input(10000) -> Dense(16, relu) -> Dense(16, relu) -> "
                     "Dense(1, sigmoid); rmsprop, binary_crossentropy, accuracy. x is multi-hot.")
def _(name, description):
    model = keras.Sequential([
        keras.Input(shape=(10000,)),
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    set_fixture_weights(model)
    x = multi_hot(4, 10000, phase=5)
    y_true = np.array([[1], [0], [1], [0]], dtype=np.float32)
    return record_fixture(name, model, x, y_true, description)


# (d) Boston MLP


@fixture("boston_mlp", "The book's Boston Housing MLP: Input(13) -> Dense(64, relu) -> Dense(64, relu) "
                       "-> Dense(1); rmsprop, mse, metrics mae.")
def _(name, description):
    model = keras.Sequential([
        keras.Input(shape=(13,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(1),
    ])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    set_fixture_weights(model)
    x = input_batch((4, 13), phase=1.1, lo=-2.0, hi=2.0)
    y_true = np.array([[21.5], [15.0], [33.2], [8.7]], dtype=np.float32)
    return record_fixture(name, model, x, y_true, description)


# (e) convnets


@fixture("mnist_convnet", "DLP preset mnist-convnet: Input(28,28,1) -> Conv2D(32,3,relu) -> MaxPooling2D(2) "
                          "-> Conv2D(64,3,relu) -> MaxPooling2D(2) -> Conv2D(64,3,relu) -> Flatten -> "
                          "Dense(64,relu) -> Dense(10,softmax); rmsprop, sparse_categorical_crossentropy, "
                          "accuracy. channels_last; Conv2D kernel shape (kh, kw, in, out).")
def _(name, description):
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
    set_fixture_weights(model)
    x = input_batch((3, 28, 28, 1), phase=0.2, lo=0.0, hi=1.0)
    y_true = np.array([7, 2, 4], dtype=np.int32)
    return record_fixture(name, model, x, y_true, description)


@fixture("conv_padding_strides", "Conv2D and pooling edge cases on a non-square input (12,11,2): "
                                 "Conv2D(4,3,padding=same,strides=2,relu) (asymmetric same padding on the "
                                 "height: TF/Keras pad more at the bottom), Conv2D(5,(2,3),strides=(1,2),"
                                 "valid,tanh), MaxPooling2D(2,strides=1,padding=same), "
                                 "AveragePooling2D(2,padding=same), Flatten, Dense(3,softmax); sgd, "
                                 "sparse_categorical_crossentropy.")
def _(name, description):
    model = keras.Sequential([
        keras.Input(shape=(12, 11, 2)),
        layers.Conv2D(4, 3, padding="same", strides=2, activation="relu"),
        layers.Conv2D(5, (2, 3), strides=(1, 2), padding="valid", activation="tanh"),
        layers.MaxPooling2D(2, strides=1, padding="same"),
        layers.AveragePooling2D(2, padding="same"),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    set_fixture_weights(model)
    x = input_batch((3, 12, 11, 2), phase=0.9)
    y_true = np.array([0, 2, 1], dtype=np.int32)
    return record_fixture(name, model, x, y_true, description)


@fixture("conv_global_pool", "Conv2D(8,3,same,relu) -> AveragePooling2D(2) -> Conv2D(6,3,valid,relu) -> "
                             "MaxPooling2D(2) -> GlobalAveragePooling2D -> Dense(4,softmax) on a (10,10,1) input; "
                             "rmsprop, sparse_categorical_crossentropy.")
def _(name, description):
    model = keras.Sequential([
        keras.Input(shape=(10, 10, 1)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.AveragePooling2D(2),
        layers.Conv2D(6, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.GlobalAveragePooling2D(),
        layers.Dense(4, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    set_fixture_weights(model)
    x = input_batch((3, 10, 10, 1), phase=2.0, lo=0.0, hi=1.0)
    y_true = np.array([1, 3, 0], dtype=np.int32)
    return record_fixture(name, model, x, y_true, description)


# (f) functional models


@fixture("functional_two_branch", "Functional: Input 'features' (8) -> two branches Dense(6,relu,'left') and "
                                  "Dense(6,tanh,'right'); Add(left,right); Concatenate(left, sum) -> "
                                  "Dense(3,softmax,'head'); rmsprop, sparse_categorical_crossentropy.")
def _(name, description):
    inputs = keras.Input(shape=(8,), name="features")
    left = layers.Dense(6, activation="relu", name="left")(inputs)
    right = layers.Dense(6, activation="tanh", name="right")(inputs)
    total = layers.Add(name="sum")([left, right])
    both = layers.Concatenate(name="concat")([left, total])
    outputs = layers.Dense(3, activation="softmax", name="head")(both)
    model = keras.Model(inputs, outputs, name="two_branch")
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    set_fixture_weights(model)
    x = input_batch((4, 8), phase=0.3)
    y_true = np.array([2, 0, 1, 2], dtype=np.int32)
    return record_fixture(name, model, x, y_true, description)


@fixture("functional_multi_io", "Functional, the book's ticket model shape: inputs 'title' (20), 'text_body' "
                                "(30), 'tags' (5) -> Concatenate -> Dense(16,relu) -> outputs 'priority' "
                                "Dense(1,sigmoid) and 'department' Dense(4,softmax); compile with loss dict "
                                "{priority: mean_squared_error, department: categorical_crossentropy}, "
                                "loss_weights {priority: 1.0, department: 0.2}, metrics dict.")
def _(name, description):
    title = keras.Input(shape=(20,), name="title")
    body = keras.Input(shape=(30,), name="text_body")
    tags = keras.Input(shape=(5,), name="tags")
    features = layers.Concatenate(name="concat")([title, body, tags])
    features = layers.Dense(16, activation="relu", name="features")(features)
    priority = layers.Dense(1, activation="sigmoid", name="priority")(features)
    department = layers.Dense(4, activation="softmax", name="department")(features)
    model = keras.Model(inputs=[title, body, tags], outputs=[priority, department], name="ticket_model")
    model.compile(optimizer="rmsprop",
                  loss={"priority": "mean_squared_error", "department": "categorical_crossentropy"},
                  loss_weights={"priority": 1.0, "department": 0.2},
                  metrics={"priority": ["mean_absolute_error"], "department": ["accuracy"]})
    set_fixture_weights(model)
    x = {"title": multi_hot(3, 20, phase=1) + multi_hot(3, 20, phase=4),
         "text_body": input_batch((3, 30), phase=0.5, lo=0.0, hi=1.0),
         "tags": multi_hot(3, 5, phase=2) + (np.arange(15).reshape(3, 5) % 2).astype(np.float32)}
    y_true = {"priority": np.array([[0.2], [0.9], [0.5]], dtype=np.float32),
              "department": np.eye(4, dtype=np.float32)[[3, 0, 1]]}
    return record_fixture(name, model, x, y_true, description)


@fixture("functional_shared_reshape", "Functional with a shared layer: inputs 'a' and 'b' (12) both go "
                                      "through the same Dense(5,relu,'shared') (one set of weights, two "
                                      "inbound nodes); Add -> Reshape((5,1)) -> Dense(2) on the last axis "
                                      "(a rank-3 Dense) -> Flatten -> Dense(2,softmax); adam, "
                                      "sparse_categorical_crossentropy.")
def _(name, description):
    a = keras.Input(shape=(12,), name="a")
    b = keras.Input(shape=(12,), name="b")
    shared = layers.Dense(5, activation="relu", name="shared")
    merged = layers.Add(name="add")([shared(a), shared(b)])
    r = layers.Reshape((5, 1), name="reshape")(merged)
    r = layers.Dense(2, name="per_position")(r)
    f = layers.Flatten(name="flatten")(r)
    outputs = layers.Dense(2, activation="softmax", name="out")(f)
    model = keras.Model([a, b], outputs, name="shared_model")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    set_fixture_weights(model)
    x = {"a": input_batch((3, 12), phase=0.1), "b": input_batch((3, 12), phase=2.5)}
    y_true = np.array([1, 0, 1], dtype=np.int32)
    return record_fixture(name, model, x, y_true, description)


# (g) Sequential with an explicit Input, built with build(), and never built


@fixture("sequential_input_layer", "Sequential with an explicit keras.Input(shape=(5,)): Dense(4,relu) -> "
                                   "Dense(2); rmsprop, mse. The JSON has an InputLayer with batch_shape.")
def _(name, description):
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    set_fixture_weights(model)
    x = input_batch((3, 5), phase=0.7)
    y_true = input_batch((3, 2), phase=1.7)
    return record_fixture(name, model, x, y_true, description)


@fixture("sequential_build_config", "Sequential without an Input, built with model.build((None, 5)): Dense(4,relu) "
                                    "-> Dense(2); rmsprop, mse. Keras 3 still adds an InputLayer to the JSON "
                                    "and writes the model-level build_config {input_shape: [null, 5]}.")
def _(name, description):
    model = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.build((None, 5))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    set_fixture_weights(model)
    x = input_batch((3, 5), phase=0.7)
    y_true = input_batch((3, 2), phase=1.7)
    return record_fixture(name, model, x, y_true, description)


@fixture("sequential_unbuilt", "Sequential without an Input, compiled but never built when to_json() ran: "
                               "Dense(4,relu) -> Dense(2); rmsprop, mse. The JSON has no InputLayer and no "
                               "build_config anywhere (a loader must take the input shape from the data). "
                               "weights/io come from building it afterwards on the io batch (5 features).")
def _(name, description):
    model = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    json_text = model.to_json()
    x = input_batch((3, 5), phase=0.7)
    model(x)  # builds it
    set_fixture_weights(model)
    y_true = input_batch((3, 2), phase=1.7)
    return record_fixture(name, model, x, y_true, description, json_text=json_text)


# (h) training-step ground truth


def steps_fixture(name, description, build, optimizer, loss, x, y_true, metrics=()):
    model = build()
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    formula_weights(model)
    files = record_fixture(name, model, x, y_true, description, weights="formula (see README)",
                           evaluate=True)
    initial = weights_dict(model)
    steps = {}
    losses = []
    for step in (1, 2):
        res = model.train_on_batch(x, y_true, return_dict=True)
        losses.append(to_float(res["loss"]))
        for k, v in weights_dict(model).items():
            steps[f"step{step}/{k}"] = v
    np.savez_compressed(os.path.join(ARGS.out, name + ".steps.npz"), **steps)
    # Add the step facts to expected.json.
    path = os.path.join(ARGS.out, name + ".expected.json")
    with open(path) as f:
        expected = json.load(f)
    expected["train_on_batch_losses"] = losses
    expected["optimizer_config"] = keras.optimizers.serialize(model.optimizer)
    expected["max_abs_change_step1"] = max(float(np.max(np.abs(steps[f"step1/{k}"] - v)))
                                           for k, v in initial.items())
    write_json(path, expected)
    return files + [name + ".steps.npz"]


def tiny_mlp(out_units=2, out_activation="softmax", kernel_regularizer=None):
    def build():
        return keras.Sequential([
            keras.Input(shape=(4,)),
            layers.Dense(3, activation="relu", kernel_regularizer=kernel_regularizer),
            layers.Dense(out_units, activation=out_activation),
        ])
    return build


STEP_X = input_batch((5, 4), phase=0.25)
STEP_Y = np.array([0, 1, 1, 0, 1], dtype=np.int32)
STEP_OPTIMIZERS = [
    ("sgd", "plain SGD, learning_rate 0.1", lambda: keras.optimizers.SGD(learning_rate=0.1)),
    ("sgd_momentum", "SGD learning_rate 0.1, momentum 0.9, nesterov False",
     lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=False)),
    ("sgd_nesterov", "SGD learning_rate 0.1, momentum 0.9, nesterov True",
     lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("rmsprop", "RMSprop learning_rate 0.01 (rho 0.9, epsilon 1e-7)",
     lambda: keras.optimizers.RMSprop(learning_rate=0.01)),
    ("rmsprop_default", "RMSprop with Keras's defaults (learning_rate 0.001, rho 0.9, epsilon 1e-7)",
     lambda: keras.optimizers.RMSprop()),
    ("adam", "Adam learning_rate 0.01 (beta_1 0.9, beta_2 0.999, epsilon 1e-7)",
     lambda: keras.optimizers.Adam(learning_rate=0.01)),
]

for _opt, _text, _make in STEP_OPTIMIZERS:
    def _register(opt=_opt, text=_text, make=_make):
        desc = (f"Training-step ground truth: Input(4) -> Dense(3,relu) -> Dense(2,softmax), "
                f"sparse_categorical_crossentropy, batch of 5, {text}; weights after 1 and 2 "
                f"train_on_batch calls in .steps.npz.")

        @fixture(f"steps_mlp_{opt}", desc, kind="steps")
        def _(name, description):
            return steps_fixture(name, description, tiny_mlp(), make(),
                                 "sparse_categorical_crossentropy", STEP_X, STEP_Y)
    _register()


@fixture("steps_mse_rmsprop", "Training-step ground truth: Input(4) -> Dense(3,relu) -> Dense(1) (linear), "
                              "mse, RMSprop learning_rate 0.01, batch of 5.", kind="steps")
def _(name, description):
    y = input_batch((5, 1), phase=3.0, lo=-1.0, hi=2.0)
    return steps_fixture(name, description, tiny_mlp(1, None), keras.optimizers.RMSprop(learning_rate=0.01),
                         "mse", STEP_X, y, metrics=["mae"])


@fixture("steps_bce_adam", "Training-step ground truth: Input(4) -> Dense(3,relu) -> Dense(1,sigmoid), "
                           "binary_crossentropy, Adam learning_rate 0.01, batch of 5.", kind="steps")
def _(name, description):
    y = STEP_Y.reshape(5, 1).astype(np.float32)
    return steps_fixture(name, description, tiny_mlp(1, "sigmoid"), keras.optimizers.Adam(learning_rate=0.01),
                         "binary_crossentropy", STEP_X, y, metrics=["accuracy"])


@fixture("steps_l2_sgd", "Training-step ground truth with a regulariser: Input(4) -> Dense(3,relu, "
                         "kernel_regularizer L2(0.01)) -> Dense(2,softmax), sparse_categorical_crossentropy, "
                         "SGD learning_rate 0.1 momentum 0.9; the L2 term is part of the loss and gradient.",
         kind="steps")
def _(name, description):
    return steps_fixture(name, description, tiny_mlp(kernel_regularizer=regularizers.l2(0.01)),
                         keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                         "sparse_categorical_crossentropy", STEP_X, STEP_Y)


def main():
    os.makedirs(ARGS.out, exist_ok=True)
    for run in FIXTURES:
        run()
    write_json(os.path.join(ARGS.out, "manifest.json"), {
        "generator": "scripts/peers/make_keras_fixtures.py",
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy_version": np.__version__,
        "seed": SEED,
        "weight_rounding": f"multiples of 1/{int(QUANT)}",
        "fixtures": MANIFEST,
    })
    total = sum(os.path.getsize(os.path.join(ARGS.out, f)) for f in os.listdir(ARGS.out))
    print(f"{len(MANIFEST)} fixtures, {total / 1e6:.2f} MB in {ARGS.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

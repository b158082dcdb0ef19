#!/usr/bin/env python3
"""Generates the Keras 3 ground truth for DLP's sequence layers in Tests/Fixtures/keras-sequences/.

  .venv/bin/python scripts/peers/make_sequence_fixtures.py [--out Tests/Fixtures/keras-sequences]

Three kinds of fixture (see Tests/Fixtures/keras-sequences/README.md):
  model  NAME.json, NAME.weights.npz, NAME.io.npz, NAME.expected.json: a model with Embedding,
         SimpleRNN / LSTM / GRU (inside Bidirectional too), Conv1D and the 1-D pooling layers,
         masks from mask_zero; Keras's weights, an input batch (int32 ids with padding, or float
         sequences) and Keras's inference outputs and evaluation, as make_keras_fixtures.py
         writes them (weight names are Keras's variable paths without the model's name:
         `lstm/lstm_cell/kernel`, `bidirectional/forward_gru/gru_cell/bias`).
  fit    NAME.json, NAME.weights.npz (Keras's initial weights), NAME.data.npz (x_train, y_train),
         NAME.fit.npz (the weights after model.fit(x, y, epochs, batch_size, shuffle=False)),
         NAME.expected.json (epochs, batch size, History.history): what DLP must reproduce from
         the same start with `--load-weights W --no-shuffle`.
  presets.json  Keras's count_params() of the models DLP's presets build.
Plus manifest.json. Deterministic: seed 1234, formula inputs, weights rounded to 2^-8.
"""
import argparse
import json
import os
import sys

import numpy as np

SEED = 1234
QUANT = 256.0


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["keras-file"], help="write only this fixture")
    p.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "Tests", "Fixtures", "keras-sequences")))
    return p.parse_args()


ARGS = parse_args()
os.environ["KERAS_BACKEND"] = "jax"
import keras  # noqa: E402
from keras import layers  # noqa: E402

MANIFEST = []


def quantize(a):
    return (np.round(np.asarray(a, dtype=np.float64) * QUANT) / QUANT).astype(np.float32)


def set_fixture_weights(model):
    """Keras's initial weights rounded to multiples of 2^-8; zero weights (biases) get small
    non-zero values so that tests see them."""
    for li, w in enumerate(model.weights):
        value = np.asarray(w.numpy())
        if not value.any():
            k = np.arange(value.size, dtype=np.float64)
            value = (0.05 * np.sin(0.7 * k + li)).reshape(value.shape)
        w.assign(quantize(value))


def weight_keys(layer):
    """(name, variable) of a layer's weights, named as a model built in Python names their
    paths: dense/kernel, lstm/lstm_cell/kernel, bidirectional/forward_gru/gru_cell/bias (a model
    from model_from_json has shorter paths, so the names are built from the structure)."""
    if isinstance(layer, layers.Bidirectional):
        return [(f"{layer.name}/{k}", w) for sub in (layer.forward_layer, layer.backward_layer)
                for k, w in weight_keys(sub)]
    if isinstance(layer, layers.RNN):
        return [(f"{layer.name}/{layer.cell.name}/{w.name}", w) for w in layer.cell.weights]
    return [(f"{layer.name}/{w.name}", w) for w in layer.weights]


def weights_dict(model):
    out = {}
    for layer in model.layers:
        for key, w in weight_keys(layer):
            if key in out:
                raise RuntimeError(f"duplicate weight name {key}")
            out[key] = np.asarray(w.numpy(), dtype=np.float32)
    return out


def shape_list(shape):
    return [None if d is None else int(d) for d in shape]


def layer_record(layer):
    rec = {"name": layer.name, "class_name": layer.__class__.__name__,
           "params": int(layer.count_params()) if layer.built else 0,
           "weights": [{"name": w.name, "shape": shape_list(w.shape)} for w in layer.weights]}
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        outs = nodes[0].outputs if isinstance(nodes[0].outputs, (list, tuple)) else [nodes[0].outputs]
        if len(outs) == 1:
            rec["output_shape"] = shape_list(outs[0].shape)
    return rec


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def ids(batch, steps, vocabulary, pad, phase=0):
    """Word ids in 1..vocabulary-1 from a formula; the first pad[i] steps of sequence i are 0
    (pre-padding, as pad_sequences makes it)."""
    i = np.arange(batch)[:, None]
    t = np.arange(steps)[None, :]
    x = 1 + (7 * t + 13 * i + 3 * phase + (t * i) % 5) % (vocabulary - 1)
    for r, p in enumerate(pad):
        x[r, :p] = 0
    return x.astype(np.int32)


def floats(shape, phase=0.0):
    n = int(np.prod(shape))
    return np.sin(np.linspace(0.0, 23.0, n) + phase).reshape(shape).astype(np.float32)


def record_model(name, description, model, x, y_true):
    out = ARGS.out
    set_fixture_weights(model)
    with open(os.path.join(out, name + ".json"), "w") as f:
        f.write(model.to_json() + "\n")
    y = np.asarray(model(x, training=False), dtype=np.float32)
    np.savez_compressed(os.path.join(out, name + ".io.npz"), x=x, y=y, y_true=y_true)
    wd = weights_dict(model)
    np.savez_compressed(os.path.join(out, name + ".weights.npz"), **wd)
    res = model.evaluate(x, y_true, batch_size=x.shape[0], verbose=0, return_dict=True)
    expected = {
        "name": name, "description": description, "keras_version": keras.__version__,
        "backend": keras.backend.backend(), "count_params": int(model.count_params()),
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "layers": [layer_record(l) for l in model.layers], "weight_names": list(wd.keys()),
        "io_keys": {"inputs": ["x"], "outputs": ["y"], "targets": ["y_true"]},
        "batch_size": int(x.shape[0]), "evaluate": {k: float(np.asarray(v)) for k, v in res.items()},
    }
    write_json(os.path.join(out, name + ".expected.json"), expected)
    files = [name + s for s in (".json", ".io.npz", ".weights.npz", ".expected.json")]
    MANIFEST.append({"name": name, "kind": "model", "description": description, "files": files})


def record_fit(name, description, model, x, y, epochs, batch_size):
    """Fits the model as keras.models.model_from_json rebuilds it after set_random_seed(SEED), so
    that seed generators without a seed of their own (and SimpleRNN's, whose get_config drops its
    seed) draw what DLP draws reading the JSON with seed SEED."""
    out = ARGS.out
    set_fixture_weights(model)
    json_text = model.to_json()
    compile_config = model.get_compile_config()
    weights = model.get_weights()
    fresh()
    model = keras.models.model_from_json(json_text)
    model.compile_from_config(compile_config)
    model.set_weights(weights)
    with open(os.path.join(out, name + ".json"), "w") as f:
        f.write(json_text + "\n")
    np.savez_compressed(os.path.join(out, name + ".weights.npz"), **weights_dict(model))
    np.savez_compressed(os.path.join(out, name + ".data.npz"), x_train=x, y_train=y)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    np.savez_compressed(os.path.join(out, name + ".fit.npz"), **weights_dict(model))
    expected = {
        "name": name, "description": description, "keras_version": keras.__version__,
        "count_params": int(model.count_params()), "epochs": epochs, "batch_size": batch_size, "seed": SEED,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    write_json(os.path.join(out, name + ".expected.json"), expected)
    files = [name + s for s in (".json", ".weights.npz", ".data.npz", ".fit.npz", ".expected.json")]
    MANIFEST.append({"name": name, "kind": "fit", "description": description, "files": files})


def fresh():
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)


# --------------------------------------------------------------------------------------------
# Inference fixtures

PADS = [0, 3, 1, 5, 0, 2]


def model_fixtures():
    fresh()
    m = keras.Sequential([
        keras.Input((8,), dtype="int32"), layers.Embedding(20, 4, mask_zero=True),
        layers.LSTM(5, return_sequences=True), layers.LSTM(3), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    record_model("seq_stacked_lstm_masked",
                 "Embedding(20, 4, mask_zero) -> LSTM(5, return_sequences) -> LSTM(3) -> Dense(1, sigmoid); "
                 "ids with pre-padding zeros; rmsprop, binary_crossentropy.",
                 m, ids(6, 8, 20, PADS), np.array([[1], [0], [1], [1], [0], [0]], np.float32))

    fresh()
    m = keras.Sequential([
        keras.Input((8,), dtype="int32"), layers.Embedding(20, 4),
        layers.Bidirectional(layers.GRU(3, return_sequences=True)),
        layers.Bidirectional(layers.GRU(2), merge_mode="sum"), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    record_model("seq_bidirectional_gru",
                 "Embedding(20, 4) -> Bidirectional(GRU(3, return_sequences)) (concat) -> "
                 "Bidirectional(GRU(2), merge_mode=sum) -> Dense(3, softmax); no mask.",
                 m, ids(6, 8, 20, PADS, phase=1), np.array([0, 2, 1, 1, 0, 2], np.int32))

    fresh()
    m = keras.Sequential([
        keras.Input((8,), dtype="int32"), layers.Embedding(20, 4, mask_zero=True),
        layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="mul"),
        layers.Bidirectional(layers.SimpleRNN(2), merge_mode="ave"),
        layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    record_model("seq_bidirectional_masked",
                 "Embedding(20, 4, mask_zero) -> Bidirectional(LSTM(3, return_sequences), mul) -> "
                 "Bidirectional(SimpleRNN(2), ave) -> Dense(1); masked steps output zeros "
                 "inside Bidirectional.",
                 m, ids(6, 8, 20, PADS, phase=2), floats((6, 1), 0.3))

    fresh()
    m = keras.Sequential([
        keras.Input((7, 3)), layers.GRU(4, reset_after=False, go_backwards=True, return_sequences=True),
        layers.GRU(3, activation="relu", recurrent_activation="tanh"),
        layers.Dense(2)])
    m.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    record_model("seq_gru_variants",
                 "Float sequences (7, 3) -> GRU(4, reset_after=False, go_backwards, return_sequences) -> "
                 "GRU(3, activation relu, recurrent_activation tanh) -> Dense(2).",
                 m, floats((5, 7, 3)), floats((5, 2), 1.1))

    fresh()
    m = keras.Sequential([
        keras.Input((16,), dtype="int32"), layers.Embedding(20, 4),
        layers.Conv1D(5, 3, activation="relu", padding="causal", dilation_rate=2),
        layers.MaxPooling1D(2), layers.Conv1D(4, 3, strides=2, padding="same", activation="tanh"),
        layers.AveragePooling1D(2, padding="same"), layers.Conv1D(3, 2),
        layers.GlobalMaxPooling1D(), layers.Dense(2, activation="softmax")])
    m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    record_model("seq_conv1d",
                 "Embedding(20, 4) -> Conv1D(5, 3, relu, causal, dilation 2) -> MaxPooling1D(2) -> "
                 "Conv1D(4, 3, strides 2, same, tanh) -> AveragePooling1D(2, same) -> Conv1D(3, 2) -> "
                 "GlobalMaxPooling1D -> Dense(2, softmax).",
                 m, ids(6, 16, 20, PADS, phase=3), np.array([0, 1, 1, 0, 1, 0], np.int32))

    fresh()
    m = keras.Sequential([
        keras.Input((8,), dtype="int32"), layers.Embedding(20, 4, mask_zero=True),
        layers.Dropout(0.5), layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    record_model("seq_masked_average",
                 "Embedding(20, 4, mask_zero) -> Dropout(0.5) (passes the mask) -> GlobalAveragePooling1D "
                 "(mean over the unmasked steps) -> Dense(1, sigmoid).",
                 m, ids(6, 8, 20, PADS, phase=4), np.array([[1], [0], [1], [1], [0], [0]], np.float32))


    fresh()
    inp = keras.Input((8,), dtype="int32")
    e = layers.Embedding(20, 4, mask_zero=True)(inp)
    seq, h, c = layers.LSTM(3, return_sequences=True, return_state=True)(e)
    y2, fh, bh = layers.Bidirectional(layers.GRU(2, return_state=True), merge_mode="sum")(seq)
    out = layers.Dense(1)(layers.Concatenate()([h, c, y2, fh, bh]))
    m = keras.Model(inp, out)
    m.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    record_model("seq_return_state",
                 "Functional: Embedding(mask_zero) -> LSTM(3, return_sequences, return_state) -> (seq, h, c); "
                 "Bidirectional(GRU(2, return_state), sum)(seq) -> (y, forward h, backward h); "
                 "Dense(1)(Concatenate([h, c, y, forward h, backward h])). References to outputs 1 and 2.",
                 m, ids(6, 8, 20, PADS, phase=5), floats((6, 1), 0.8))


# --------------------------------------------------------------------------------------------
# Training fixtures: Keras's fit from its (rounded) initial weights, shuffle=False


def fit_fixtures():
    x8 = ids(8, 8, 12, [0, 3, 1, 5, 0, 2, 4, 0], phase=5)
    yb = np.array([[1], [0], [1], [1], [0], [0], [1], [0]], np.float32)

    fresh()
    m = keras.Sequential([
        keras.Input((8,), dtype="int32"), layers.Embedding(12, 4, mask_zero=True),
        layers.LSTM(4, return_sequences=True), layers.LSTM(3), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01), loss="binary_crossentropy", metrics=["accuracy"])
    record_fit("fit_stacked_lstm", "Stacked LSTM on masked ids, rmsprop 0.01, 3 epochs of 2 batches of 4.",
               m, x8, yb, epochs=3, batch_size=4)

    fresh()
    m = keras.Sequential([
        keras.Input((8,), dtype="int32"), layers.Embedding(12, 4),
        layers.Bidirectional(layers.GRU(3)), layers.Dense(2, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    record_fit("fit_bidirectional_gru", "Bidirectional(GRU(3)) on ids, adam 0.01, 3 epochs of 2 batches of 4.",
               m, x8, yb.astype(np.int32).reshape(-1), epochs=3, batch_size=4)

    fresh()
    m = keras.Sequential([
        keras.Input((8,), dtype="int32"), layers.Embedding(12, 4),
        layers.Conv1D(4, 3, activation="relu"), layers.MaxPooling1D(2), layers.GlobalMaxPooling1D(),
        layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="mse", metrics=["mae"])
    record_fit("fit_conv1d", "Embedding -> Conv1D(4, 3, relu) -> MaxPooling1D(2) -> GlobalMaxPooling1D -> Dense(1); "
               "SGD 0.1 momentum 0.9, mse, 3 epochs of 2 batches of 4.",
               m, x8, floats((8, 1), 0.5), epochs=3, batch_size=4)

    fresh()
    m = keras.Sequential([
        keras.Input((8,), dtype="int32"), layers.Embedding(12, 4, mask_zero=True),
        layers.LSTM(4, dropout=0.3, recurrent_dropout=0.2, seed=7), layers.Dropout(0.5, seed=11),
        layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="binary_crossentropy")
    record_fit("fit_lstm_dropout",
               "LSTM(4, dropout 0.3, recurrent_dropout 0.2, seed 7) (one mask per gate: 8 draws a step) -> "
               "Dropout(0.5, seed 11) -> Dense(1, sigmoid); SGD 0.5, 3 epochs of 2 batches of 4: the masks "
               "must be Keras's.",
               m, x8, yb, epochs=3, batch_size=4)

    fresh()
    m = keras.Sequential([
        keras.Input((6, 3)), layers.GRU(4, dropout=0.2, recurrent_dropout=0.25, seed=3, return_sequences=True),
        layers.SimpleRNN(3, dropout=0.3, recurrent_dropout=0.1), layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01), loss="mse", metrics=["mae"])
    record_fit("fit_gru_timeseries",
               "Float windows (6, 3) -> GRU(4, dropout 0.2, recurrent_dropout 0.25, seed 3) -> "
               "SimpleRNN(3, dropout 0.3, recurrent_dropout 0.1, a default seed: its generator draws before "
               "its initialisers) -> Dense(1); rmsprop 0.01, mse.",
               m, floats((8, 6, 3), 0.2), floats((8, 1), 2.0), epochs=3, batch_size=4)


# --------------------------------------------------------------------------------------------
# The book's temperature-forecasting windows (DLwP 2nd ed. 10.2) on a small synthetic CSV


def timeseries_fixture():
    """timeseries.csv (900 rows: a text "Date Time" column and 4 numeric ones, Jena's layout) and
    timeseries.windows.npz: the book's processing (features normalised with the first half's
    mean and std, target "T (degC)" raw) through keras.utils.timeseries_dataset_from_array
    (format="grain": no tensorflow here) with sequence_length 12, sampling_rate 2,
    sequence_stride 3, the book's delay sampling_rate * (sequence_length + 24 - 1), and the
    book's 50/25/25 split; plus the naive forecast's MAE on validation and test."""
    n, length, rate, stride = 900, 12, 2, 3
    delay = rate * (length + 24 - 1)
    t = np.arange(n, dtype=np.float64)
    columns = ["p (mbar)", "T (degC)", "rh (%)", "wv (m/s)"]
    values = np.stack([
        1000 + 5 * np.sin(t / 40.0), 10 + 8 * np.sin(t / 23.0) + 0.5 * np.cos(t / 3.0),
        60 + 20 * np.cos(t / 31.0), 2 + np.abs(np.sin(t / 7.0))], axis=1)
    values = np.round(values, 3)
    lines = [",".join(["Date Time"] + columns)]
    for i in range(n):
        stamp = f"{1 + i // 144:02d}.01.2009 {(i % 144) // 6:02d}:{(i % 6) * 10:02d}:00"
        lines.append(",".join([stamp] + [f"{v:.3f}" for v in values[i]]))
    with open(os.path.join(ARGS.out, "timeseries.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # The book's code, from the CSV's lines.
    raw = np.zeros((n, len(columns)))
    temperature = np.zeros((n,))
    for i, line in enumerate(lines[1:]):
        v = [float(x) for x in line.split(",")[1:]]
        temperature[i] = v[1]
        raw[i, :] = v[:]
    num_train, num_val = int(0.5 * n), int(0.25 * n)
    mean = raw[:num_train].mean(axis=0)
    raw -= mean
    std = raw[:num_train].std(axis=0)
    raw /= std
    out = {}
    maes = {}
    for split, start, end in (("train", 0, num_train), ("val", num_train, num_train + num_val),
                              ("test", num_train + num_val, None)):
        ds = keras.utils.timeseries_dataset_from_array(
            raw[:-delay], targets=temperature[delay:], sampling_rate=rate, sequence_length=length,
            sequence_stride=stride, shuffle=False, batch_size=None, start_index=start, end_index=end, format="grain")
        xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in ds])
        out[f"{split}_x"] = np.stack(xs).astype(np.float32)
        out[f"{split}_y"] = np.asarray(ys).astype(np.float32)
        preds = np.stack(xs)[:, -1, 1] * std[1] + mean[1]
        maes[split] = float(np.mean(np.abs(preds - np.asarray(ys))))
    np.savez_compressed(os.path.join(ARGS.out, "timeseries.windows.npz"), **out)
    write_json(os.path.join(ARGS.out, "timeseries.expected.json"), {
        "target": "T (degC)", "sequence_length": length, "sampling_rate": rate, "sequence_stride": stride,
        "delay": delay, "train_fraction": 0.5, "validation_fraction": 0.25,
        "windows": {k: int(v.shape[0]) for k, v in out.items() if k.endswith("_x")},
        "baseline_mae": {"val": maes["val"], "test": maes["test"]},
    })
    MANIFEST.append({"name": "timeseries", "kind": "timeseries", "description": timeseries_fixture.__doc__.strip(),
                     "files": ["timeseries.csv", "timeseries.windows.npz", "timeseries.expected.json"]})


# --------------------------------------------------------------------------------------------
# Initial weights after keras.utils.set_random_seed: the seed-draw order of every sequence layer


def initial_weights_fixture():
    """init_seed7.npz: the exact initial weights of a Sequential built after
    keras.utils.set_random_seed(7): Input(6, int32) -> Embedding(50, 4, mask_zero) ->
    Bidirectional(LSTM(3, return_sequences)) -> SimpleRNN(2, return_sequences) -> Conv1D(3, 2)
    -> GRU(2) -> Dropout(0.3) -> Dense(1). The uniform initialisers (embeddings, glorot kernels)
    must match DLP's bit for bit, which needs every layer's default seeds drawn in Keras's order
    (the layer given to Bidirectional draws, then its forward and backward copies; SimpleRNN's
    seed generator before its initialisers; every cell's generator after them)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    m = keras.Sequential([
        keras.Input((6,), dtype="int32"), layers.Embedding(50, 4, mask_zero=True),
        layers.Bidirectional(layers.LSTM(3, return_sequences=True)), layers.SimpleRNN(2, return_sequences=True),
        layers.Conv1D(3, 2), layers.GRU(2), layers.Dropout(0.3), layers.Dense(1)])
    np.savez_compressed(os.path.join(ARGS.out, "init_seed7.npz"), **weights_dict(m))
    MANIFEST.append({"name": "init_seed7", "kind": "initial-weights", "description": initial_weights_fixture.__doc__.strip(),
                     "files": ["init_seed7.npz"]})


# --------------------------------------------------------------------------------------------
# The presets' parameter counts


def preset_counts():
    def count(model):
        return int(model.count_params())

    fresh()
    out = {
        "imdb-lstm": count(keras.Sequential([
            keras.Input((200,), dtype="int32"), layers.Embedding(10000, 32), layers.LSTM(32),
            layers.Dense(1, activation="sigmoid")])),
        "imdb-gru-bidirectional": count(keras.Sequential([
            keras.Input((200,), dtype="int32"), layers.Embedding(10000, 32, mask_zero=True),
            layers.Bidirectional(layers.GRU(32)), layers.Dropout(0.5), layers.Dense(1, activation="sigmoid")])),
        "imdb-conv1d": count(keras.Sequential([
            keras.Input((200,), dtype="int32"), layers.Embedding(10000, 32),
            layers.Conv1D(32, 7, activation="relu"), layers.MaxPooling1D(5),
            layers.Conv1D(32, 7, activation="relu"), layers.GlobalMaxPooling1D(),
            layers.Dense(1, activation="sigmoid")])),
        "timeseries-gru": count(keras.Sequential([
            keras.Input((120, 14)), layers.GRU(32, recurrent_dropout=0.25), layers.Dropout(0.5),
            layers.Dense(1)])),
    }
    write_json(os.path.join(ARGS.out, "presets.json"), {"keras_version": keras.__version__, "count_params": out})


def keras_file_fixture():
    """A functional sequence model saved by Keras itself as a .keras file (Embedding with
    mask_zero, Bidirectional GRU, LSTM, causal Conv1D): its weights file keeps recurrent weights
    in cells (layers/lstm/cell/vars, layers/bidirectional/forward_layer/cell/vars)."""
    keras.utils.set_random_seed(SEED)
    inp = keras.Input((20,), dtype="int32")
    x = layers.Embedding(100, 8, mask_zero=True)(inp)
    x = layers.Bidirectional(layers.GRU(6, return_sequences=True))(x)
    x = layers.LSTM(5, return_sequences=True)(x)
    x = layers.Conv1D(4, 3, padding="causal")(x)
    x = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inp, layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    set_fixture_weights(model)
    x = ids(12, 20, 100, pad=[0, 3, 7, 12, 19, 0, 1, 5, 9, 2, 4, 6])
    model.save(os.path.join(ARGS.out, "seq_keras_file.keras"))
    y = np.asarray(model.predict(x, verbose=0), dtype=np.float32)
    np.savez_compressed(os.path.join(ARGS.out, "seq_keras_file.io.npz"), x=x, y=y)
    write_json(os.path.join(ARGS.out, "seq_keras_file.expected.json"), {
        "keras_version": keras.__version__, "count_params": int(model.count_params())})


def main():
    os.makedirs(ARGS.out, exist_ok=True)
    if ARGS.only == "keras-file":
        keras_file_fixture()
        return
    model_fixtures()
    fit_fixtures()
    timeseries_fixture()
    initial_weights_fixture()
    preset_counts()
    keras_file_fixture()
    write_json(os.path.join(ARGS.out, "manifest.json"), {
        "generator": "scripts/peers/make_sequence_fixtures.py", "keras_version": keras.__version__,
        "backend": keras.backend.backend(), "numpy_version": np.__version__, "seed": SEED,
        "weight_rounding": f"multiples of 1/{int(QUANT)}", "fixtures": MANIFEST})
    total = sum(os.path.getsize(os.path.join(ARGS.out, f)) for f in os.listdir(ARGS.out))
    print(f"{len(MANIFEST)} fixtures, {total / 1e3:.0f} KB in {ARGS.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

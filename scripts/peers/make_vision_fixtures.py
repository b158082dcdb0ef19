#!/usr/bin/env python3
"""Generates the vision-chapter fixtures in Tests/Fixtures/vision/ with real Keras 3 (JAX).

  .venv/bin/python scripts/peers/make_vision_fixtures.py [--out Tests/Fixtures/vision]

Fixtures (see Tests/Fixtures/vision/README.md):
  layers.npz / layers.json   each new layer alone: its config, weights, an input, its inference
                             output and (random layers) its training outputs of the first two calls
  vgg16_head.*               the book's Sequential([VGG16 base (include_top=False, weights=None,
                             32x32x3), Flatten, Dense(256), Dense(1)]) with the base frozen, built
                             under set_random_seed(SEED_VGG): JSON, Keras's counts, a checksum per
                             weight (no weights: 58 MB), inputs and Keras's outputs
  vision_trained.*           a model with Rescaling, every augmentation layer, BatchNormalization,
                             SeparableConv2D, Conv2DTranspose, trained a few steps by Keras: JSON,
                             weights (moving statistics included) and inference outputs
  augment_fit.*              Keras's initial weights (set_random_seed) and the weights and moving
                             statistics after fit (SGD, shuffle=False, 2 epochs of 2 steps) of a
                             model with every augmentation layer and BatchNormalization
  conv_bn_fit.*              the same for Conv2D + BatchNormalization (the issue's check)
  gradcam.*                  a small convnet, an image and the book's Grad-CAM heatmap of a layer
  nested.*                   a functional model with a nested Sequential (Conv2D frozen, BatchNormalization)
                             saved by Keras as .keras after one epoch of Adam, its outputs and weights

  python scripts/peers/make_vision_fixtures.py --only nested   makes one fixture set
"""
import argparse
import json
import os

import numpy as np

p = argparse.ArgumentParser()
here = os.path.dirname(os.path.abspath(__file__))
p.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "Tests", "Fixtures", "vision")))
p.add_argument("--only", help="make only this fixture set (layers, vgg16_head, vision_trained, augment_fit, conv_bn_fit, gradcam, nested)")
ARGS = p.parse_args()
os.environ["KERAS_BACKEND"] = "jax"
import keras  # noqa: E402
from keras import layers  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

os.makedirs(ARGS.out, exist_ok=True)
SEED_VGG = 7


def out(name):
    return os.path.join(ARGS.out, name)


def write_json(name, obj):
    with open(out(name), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def formula(shape, phase=0.0, lo=0.0, hi=1.0):
    n = int(np.prod(shape))
    v = (np.sin(np.linspace(0.0, 37.0, n) + phase) + 1.0) / 2.0
    return (lo + (hi - lo) * v).reshape(shape).astype(np.float32)


def weights_dict(model, prefix=""):
    """LAYER/WEIGHT, a nested model's layers as MODEL/LAYER/WEIGHT (DLP's names)."""
    d = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            d.update(weights_dict(layer, prefix + layer.name + "/"))
            continue
        for w in layer.weights:
            d[f"{prefix}{layer.name}/{w.name}"] = np.asarray(w.numpy(), dtype=np.float32)
    return d


def checksum(a):
    """sum over i of (float32 bits of a[i]) * (2i + 1), mod 2^64: changes with any bit."""
    bits = np.ascontiguousarray(a, dtype=np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    odd = np.arange(bits.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    with np.errstate(over="ignore"):
        return int(np.sum(bits * odd, dtype=np.uint64))


def counts(model):
    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    total = int(model.count_params())
    return {"total": total, "trainable": trainable, "non_trainable": total - trainable}


# ---------------------------------------------------------------------------------------------
# layers: each layer alone


def layer_fixtures():
    cases = [
        ("rescaling", layers.Rescaling(1.0 / 255, offset=-0.5), (5, 6, 2), 0, 255),
        ("resizing_up", layers.Resizing(7, 9), (5, 6, 2), 0, 1),
        ("resizing_down", layers.Resizing(3, 4), (7, 9, 1), 0, 1),
        ("flip", layers.RandomFlip(seed=11), (5, 6, 2), 0, 1),
        ("flip_h", layers.RandomFlip("horizontal", seed=12), (5, 6, 2), 0, 1),
        ("rotation", layers.RandomRotation(0.2, seed=13), (7, 6, 2), 0, 1),
        ("rotation_constant", layers.RandomRotation((-0.3, 0.1), fill_mode="constant", fill_value=0.5, seed=14), (6, 6, 1), 0, 1),
        ("rotation_nearest", layers.RandomRotation(0.25, fill_mode="nearest", interpolation="nearest", seed=15), (6, 7, 1), 0, 1),
        ("zoom", layers.RandomZoom(0.3, seed=16), (6, 7, 2), 0, 1),
        ("zoom_wh_wrap", layers.RandomZoom((-0.3, 0.2), (0.1, 0.4), fill_mode="wrap", seed=17), (6, 7, 2), 0, 1),
        ("translation", layers.RandomTranslation(0.2, 0.3, seed=18), (6, 7, 2), 0, 1),
        ("translation_constant", layers.RandomTranslation((-0.2, 0.1), 0.25, fill_mode="constant", seed=19), (6, 5, 1), 0, 1),
        ("contrast", layers.RandomContrast(0.5, seed=20), (5, 6, 3), 0, 255),
        ("contrast_range", layers.RandomContrast((0.3, 0.6), value_range=(0, 1), seed=21), (5, 6, 3), 0, 1),
        ("separable", layers.SeparableConv2D(3, 3, padding="same", strides=2, depth_multiplier=2, activation="relu"), (7, 6, 2), -1, 1),
        ("separable_valid", layers.SeparableConv2D(4, (2, 3)), (5, 6, 3), -1, 1),
        ("transpose_valid", layers.Conv2DTranspose(3, 3), (4, 5, 2), -1, 1),
        ("transpose_same_s2", layers.Conv2DTranspose(2, 3, strides=2, padding="same"), (4, 3, 2), -1, 1),
        ("transpose_valid_s2", layers.Conv2DTranspose(2, (2, 3), strides=(2, 3)), (3, 4, 2), -1, 1),
        ("transpose_same_op", layers.Conv2DTranspose(2, 4, strides=3, padding="same", output_padding=(2, 1)), (3, 2, 2), -1, 1),
        ("transpose_valid_op", layers.Conv2DTranspose(2, 3, strides=2, output_padding=1, activation="relu"), (3, 3, 1), -1, 1),
        ("transpose_same_s1", layers.Conv2DTranspose(3, 4, padding="same"), (4, 4, 2), -1, 1),
        ("bn", layers.BatchNormalization(momentum=0.9, epsilon=0.01), (4, 3, 3), -2, 2),
    ]
    arrays = {}
    index = []
    for k, (name, layer, shape, lo, hi) in enumerate(cases):
        x = formula((4,) + shape, phase=k, lo=lo, hi=hi)
        layer.build((None,) + shape)
        # Non-trivial weights (biases and BN statistics away from their zero/one initialisers).
        for wi, w in enumerate(layer.weights):
            v = formula(w.shape, phase=0.3 * wi + k, lo=-0.5, hi=0.5)
            if w.name == "moving_variance":
                v = v + 1.0
            w.assign(v)
        arrays[f"{name}/x"] = x
        for w in layer.weights:
            arrays[f"{name}/weights/{w.name}"] = np.asarray(w.numpy(), np.float32)
        arrays[f"{name}/inference"] = np.asarray(layer(x, training=False), np.float32)
        calls = 0
        if hasattr(layer, "generator") or isinstance(layer, layers.BatchNormalization):
            arrays[f"{name}/training0"] = np.asarray(layer(x, training=True), np.float32)
            arrays[f"{name}/training1"] = np.asarray(layer(x, training=True), np.float32)
            calls = 2
            for w in layer.weights:
                arrays[f"{name}/after/{w.name}"] = np.asarray(w.numpy(), np.float32)
        index.append({"name": name, "class_name": layer.__class__.__name__, "config": layer.get_config(),
                      "input_shape": list(shape), "training_calls": calls})
    np.savez_compressed(out("layers.npz"), **arrays)
    write_json("layers.json", index)


# ---------------------------------------------------------------------------------------------
# the book's frozen VGG16 base with a dense head


def vgg16_head():
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED_VGG)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    base.trainable = False
    model = keras.Sequential([base, layers.Flatten(), layers.Dense(256), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=2e-5), loss="binary_crossentropy", metrics=["accuracy"])
    x = formula((2, 32, 32, 3), lo=0, hi=255)
    y = np.asarray(model(x, training=False), np.float32)
    features = np.asarray(base(x, training=False), np.float32)
    with open(out("vgg16_head.json"), "w") as f:
        f.write(model.to_json() + "\n")
    np.savez_compressed(out("vgg16_head.io.npz"), x=x, y=y, features=features)
    wd = weights_dict(model)
    write_json("vgg16_head.expected.json", {
        "seed": SEED_VGG, "counts": counts(model), "base_counts": counts(base),
        "weights": {k: {"shape": list(v.shape), "checksum": str(checksum(v))} for k, v in wd.items()},
        "summary_rows": [[l.name, l.__class__.__name__, int(l.count_params())] for l in model.layers],
    })


# ---------------------------------------------------------------------------------------------
# a trained model with every vision layer


def vision_model():
    inputs = keras.Input((12, 12, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = layers.RandomFlip(name="flip")(x)
    x = layers.RandomRotation(0.1, name="rotate")(x)
    x = layers.RandomZoom(0.2, name="zoom")(x)
    x = layers.RandomTranslation(0.1, 0.1, name="shift")(x)
    x = layers.RandomContrast(0.3, value_range=(0, 1), name="contrast")(x)
    x = layers.Conv2D(6, 3, name="conv")(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = layers.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="up")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(3, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name="vision")


def vision_trained():
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    model = vision_model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = formula((24, 12, 12, 3), lo=0, hi=255)
    x = x * (1 + np.arange(24)[:, None, None, None] % 3) / 3
    y = (np.arange(24) % 3).astype(np.int32)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    with open(out("vision_trained.json"), "w") as f:
        f.write(model.to_json() + "\n")
    np.savez_compressed(out("vision_trained.weights.npz"), **weights_dict(model))
    xs = x[:6]
    np.savez_compressed(out("vision_trained.io.npz"), x=xs, y=np.asarray(model(xs, training=False), np.float32))
    write_json("vision_trained.expected.json", {"counts": counts(model)})


# ---------------------------------------------------------------------------------------------
# fit from Keras's initial weights, compared weight by weight


def fit_fixture(name, build, x, y, epochs=2, batch_size=4, seed=5):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build()
    with open(out(name + ".json"), "w") as f:
        f.write(model.to_json() + "\n")
    initial = weights_dict(model)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    final = weights_dict(model)
    arrays = {"x": x, "y": y}
    arrays.update({"initial/" + k: v for k, v in initial.items()})
    arrays.update({"final/" + k: v for k, v in final.items()})
    np.savez_compressed(out(name + ".npz"), **arrays)
    write_json(name + ".expected.json", {"seed": seed, "epochs": epochs, "batch_size": batch_size, "counts": counts(model)})


def augment_model():
    model = keras.Sequential([
        keras.Input((8, 8, 2)),
        layers.RandomFlip(name="flip"),
        layers.RandomRotation(0.2, name="rotate"),
        layers.RandomZoom(0.2, 0.3, name="zoom"),
        layers.RandomTranslation(0.2, 0.1, name="shift"),
        layers.RandomContrast(0.4, value_range=(0, 1), name="contrast"),
        layers.Conv2D(3, 3, name="conv"),
        layers.BatchNormalization(name="bn"),
        layers.Flatten(name="flatten"),
        layers.Dense(1, name="out"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


def conv_bn_model():
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        layers.Conv2D(4, 3, name="conv"),
        layers.BatchNormalization(name="bn"),
        layers.Activation("relu", name="relu"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(3, activation="softmax", name="out"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# ---------------------------------------------------------------------------------------------
# a nested model saved by Keras as .keras (weights file paths layers/sequential/layers/...)


def nested_keras():
    keras.backend.clear_session()
    keras.utils.set_random_seed(11)
    base = keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(3, 3, name="conv"),
                             layers.BatchNormalization(name="bn")], name="base")
    inputs = keras.Input((6, 6, 2), name="image")
    x = base(inputs)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(2, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs, name="nested")
    base.layers[0].trainable = False
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    x = formula((8, 6, 6, 2), phase=0.7, lo=-1, hi=1)
    y = (np.arange(8) % 2).astype(np.int32)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    model.save(out("nested.keras"))
    np.savez_compressed(out("nested.io.npz"), x=x, y=np.asarray(model(x, training=False), np.float32))
    write_json("nested.expected.json", {"counts": counts(model), "weights": {k: v.tolist() for k, v in weights_dict(model).items()}})


# ---------------------------------------------------------------------------------------------
# Grad-CAM as the book computes it


def gradcam():
    keras.backend.clear_session()
    keras.utils.set_random_seed(9)
    inputs = keras.Input((16, 16, 3), name="image")
    x = layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Conv2D(6, 3, activation="relu", name="last_conv")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="cam")
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    for w in model.weights:  # biases away from zero
        if w.name == "bias":
            w.assign(formula(w.shape, lo=-0.1, hi=0.2))
    img = formula((1, 16, 16, 3), phase=1.0, lo=0, hi=255).round()
    # The book: a model from the input to the layer's output and the predictions, the gradient
    # of the top class's score with respect to the layer's output, pooled per channel, the
    # channels weighted and averaged, ReLU, divided by the maximum.
    grad_model = keras.Model(model.inputs, [model.get_layer("last_conv").output, model.output])
    # Differentiate with respect to the layer's output: the layers after it, as a function.
    conv_out = np.asarray(grad_model(img)[0])
    head = keras.Sequential([keras.Input(conv_out.shape[1:]), model.get_layer("flatten"), model.get_layer("predictions")])
    preds = np.asarray(head(conv_out))
    k = int(np.argmax(preds[0]))
    grads = np.asarray(jax.grad(lambda c: head(c)[0, k])(jnp.asarray(conv_out)))
    pooled = grads.mean(axis=(0, 1, 2))
    weighted = conv_out[0] * pooled
    heatmap = np.maximum(weighted.mean(axis=-1), 0)
    heatmap = heatmap / heatmap.max()
    with open(out("gradcam.json"), "w") as f:
        f.write(model.to_json() + "\n")
    np.savez_compressed(out("gradcam.weights.npz"), **weights_dict(model))
    np.savez_compressed(out("gradcam.io.npz"), x=img.astype(np.float32), heatmap=heatmap.astype(np.float32),
                        predictions=np.asarray(model(img), np.float32), layer_output=conv_out, grads=grads)
    write_json("gradcam.expected.json", {"layer": "last_conv", "class": k})


if __name__ == "__main__":
    makers = {
        "layers": layer_fixtures, "vgg16_head": vgg16_head, "vision_trained": vision_trained,
        "augment_fit": lambda: fit_fixture("augment_fit", augment_model, formula((8, 8, 8, 2), phase=0.5),
                                           formula((8, 1), phase=2.0, lo=-1, hi=1)),
        "conv_bn_fit": lambda: fit_fixture("conv_bn_fit", conv_bn_model, formula((8, 6, 6, 2), phase=1.5, lo=-1, hi=2),
                                           (np.arange(8) % 3).astype(np.int32), epochs=3),
        "gradcam": gradcam, "nested": nested_keras,
    }
    for name, make in makers.items():
        if ARGS.only in (None, name):
            make()
    print("vision fixtures written to", ARGS.out)

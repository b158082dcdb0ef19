#!/usr/bin/env python3
"""Keras 3 (JAX) on a folder of class folders, as `dlp train --dataset DIR --preset mnist-convnet`
trains: files listed and shuffled as keras.utils.image_dataset_from_directory does
(np.random.RandomState(seed)), decoded with Pillow (TensorFlow, which image_dataset_from_directory
decodes with, is not installed here), divided by 255, the book's convnet, rmsprop, batch 64,
validation_split taking the last fraction. Prints per seed the validation accuracy per epoch.

  .venv/bin/python scripts/peers/keras_image_folder.py DIR [--epochs 4] [--seeds 0,1,2] [--color-mode grayscale]
"""
import argparse
import json
import os

p = argparse.ArgumentParser()
p.add_argument("folder")
p.add_argument("--epochs", type=int, default=4)
p.add_argument("--seeds", default="0")
p.add_argument("--validation-split", type=float, default=0.2)
p.add_argument("--color-mode", default="grayscale")
a = p.parse_args()
os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from PIL import Image  # noqa: E402


def index(folder, seed):
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))
    files, labels = [], []
    for k, c in enumerate(classes):
        for root, _, names in sorted(os.walk(os.path.join(folder, c)), key=lambda x: x[0]):
            for n in sorted(names):
                if n.lower().endswith((".png", ".jpg", ".jpeg")):
                    files.append(os.path.join(root, n))
                    labels.append(k)
    rng = np.random.RandomState(seed)
    rng.shuffle(files)
    rng = np.random.RandomState(seed)
    rng.shuffle(labels)
    return files, np.array(labels, dtype=np.int32)


results = {}
for seed in [int(s) for s in a.seeds.split(",")]:
    files, y = index(a.folder, seed)
    mode = "L" if a.color_mode == "grayscale" else "RGB"
    x = np.stack([np.asarray(Image.open(f).convert(mode), dtype=np.float32) for f in files]) / 255.0
    if x.ndim == 3:
        x = x[..., None]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(x.shape[1:]),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, batch_size=64, epochs=a.epochs, validation_split=a.validation_split, verbose=0)
    results[seed] = [round(v, 4) for v in h.history["val_accuracy"]]
    print(seed, results[seed], flush=True)
print(json.dumps({"val_accuracy": results}))

#!/usr/bin/env python3
"""The full-size check of the book's pretrained base: Keras's VGG16(include_top=False,
weights="imagenet", input_shape=(180, 180, 3)), frozen, in Sequential([base, Flatten, Dense(256),
Dense(1, sigmoid)]) (Deep Learning with Python, ch. 8), saved by Keras and loaded by DLP:
DLP must report Keras's counts and predict Keras's outputs with Keras's weights.

  .venv/bin/python scripts/peers/check_vgg16_full.py [--dlp .build/release/dlp] [--work DIR]
      [--weights imagenet|none] [--size 180]

Needs the venv (keras, jax) and, for --weights imagenet, the ImageNet weights in
~/.keras/models (Keras downloads them once; on a machine without network use --weights none:
Keras's random initial weights, which exercise the same loading path). Exits non-zero on a
mismatch. The small fixture in Tests/Fixtures/vision/vgg16_head.* checks the same structure in
the test suite without 58 MB of weights.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
p.add_argument("--dlp", default=os.path.join(root, ".build", "release", "dlp"))
p.add_argument("--work", default=None)
p.add_argument("--weights", default="imagenet", choices=["imagenet", "none"])
p.add_argument("--size", type=int, default=180)
a = p.parse_args()
os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

work = a.work or tempfile.mkdtemp(prefix="vgg16-check-")
os.makedirs(work, exist_ok=True)
keras.utils.set_random_seed(1)
base = keras.applications.VGG16(include_top=False, weights=None if a.weights == "none" else "imagenet",
                                input_shape=(a.size, a.size, 3))
base.trainable = False
model = keras.Sequential([base, layers.Flatten(), layers.Dense(256), layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
saved = os.path.join(work, "vgg16_head.keras")
model.save(saved)

# What the user does: dlp reads the .keras file (config, weights) itself.
x = (np.random.RandomState(0).rand(4, a.size, a.size, 3) * 255).astype(np.float32)
np.savez(os.path.join(work, "x.npz"), x=x)
expected = np.asarray(keras.saving.load_model(saved)(x, training=False))

summary = subprocess.run([a.dlp, "summary", "--model", saved],
                         check=True, capture_output=True, text=True).stdout
subprocess.run([a.dlp, "predict", "--model", saved, "--input", os.path.join(work, "x.npz"), "--batch-size", "2",
                "--output", os.path.join(work, "y.npz")], check=True)
y = np.load(os.path.join(work, "y.npz"))["y"]

trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
total = int(model.count_params())
ok = True
for label, n in [("Total params", total), ("Trainable params", trainable), ("Non-trainable params", total - trainable)]:
    found = re.search(label + r": ([\d,]+)", summary)
    got = int(found.group(1).replace(",", "")) if found else None
    print(f"{label}: Keras {n:,}, DLP {got:,}" if got is not None else f"{label}: missing from DLP's summary")
    ok &= got == n
diff = float(np.abs(y - expected).max())
print(f"outputs: Keras {expected.ravel()}, DLP {y.ravel()}, max |difference| {diff:.2e}")
ok &= diff <= 1e-4
print(json.dumps({"ok": bool(ok), "max_difference": diff, "total": total, "trainable": trainable, "work": work}))
sys.exit(0 if ok else 1)

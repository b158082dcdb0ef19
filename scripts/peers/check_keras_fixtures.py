#!/usr/bin/env python3
"""Checks Tests/Fixtures/keras/ against an independent NumPy re-implementation (no Keras needed):
the forward pass of the Dense-only Sequential fixtures and of the training-step fixtures, and the
optimizer updates of every steps_* fixture. It also writes down, as plain code, the exact formulas
Keras 3 uses, for whoever implements them elsewhere.

  python3 scripts/peers/check_keras_fixtures.py [Tests/Fixtures/keras]

Exits non-zero on a mismatch. Needs only numpy.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "Tests", "Fixtures", "keras")
EPS = 1e-7  # keras.config.epsilon()


def act(name, z):
    if name in (None, "linear"):
        return z
    if name == "relu":
        return np.maximum(z, 0)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "elu":
        return np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1)
    if name == "softmax":
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    raise ValueError(name)


def dense_layers(doc):
    """[(name, activation, use_bias)] of a Sequential's Dense layers (Dropout is the identity at inference)."""
    out = []
    for layer in doc["config"]["layers"]:
        if layer["class_name"] == "Dense":
            c = layer["config"]
            out.append((c["name"], c["activation"], c["use_bias"]))
        elif layer["class_name"] not in ("InputLayer", "Dropout"):
            return None
    return out


def same_pads(size, k, stride):
    """TF/Keras 'same' padding: total = max((ceil(size/stride)-1)*stride + k - size, 0), the odd
    pixel at the bottom/right."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2, out


def windows(x, kh, kw, sh, sw, padding, fill):
    """(N, OH, OW, kh, kw, C) windows of a channels_last batch, padded with fill."""
    n, h, wd, c = x.shape
    if padding == "same":
        top, bottom, oh = same_pads(h, kh, sh)
        left, right, ow = same_pads(wd, kw, sw)
    else:
        top = bottom = left = right = 0
        oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    out = np.empty((n, oh, ow, kh, kw, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
    return out


def sequential_forward(doc, w, x):
    """NumPy forward of a Sequential of Conv2D / pooling / Flatten / Dense / Dropout layers."""
    a = x.astype(np.float64)
    for layer in doc["config"]["layers"]:
        c, kind = layer["config"], layer["class_name"]
        if kind in ("InputLayer", "Dropout"):
            continue
        if kind == "Dense":
            a = a @ w[f"{c['name']}/kernel"] + (w[f"{c['name']}/bias"] if c["use_bias"] else 0)
            a = act(c["activation"], a)
        elif kind == "Conv2D":
            assert c["data_format"] == "channels_last" and tuple(c["dilation_rate"]) == (1, 1)
            k = w[f"{c['name']}/kernel"]  # (kh, kw, in, out)
            win = windows(a, k.shape[0], k.shape[1], *c["strides"], c["padding"], 0.0)
            a = np.einsum("nijhwc,hwco->nijo", win, k)
            if c["use_bias"]:
                a = a + w[f"{c['name']}/bias"]
            a = act(c["activation"], a)
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            ph, pw = c["pool_size"]
            sh, sw = c["strides"] or c["pool_size"]
            if kind == "MaxPooling2D":
                a = windows(a, ph, pw, sh, sw, c["padding"], -np.inf).max(axis=(3, 4))
            else:
                # 'same' average pooling divides by the number of real (unpadded) pixels.
                total = windows(a, ph, pw, sh, sw, c["padding"], 0.0).sum(axis=(3, 4))
                count = windows(np.ones_like(a[:1, ..., :1]), ph, pw, sh, sw, c["padding"], 0.0).sum(axis=(3, 4))
                a = total / count
        elif kind == "GlobalAveragePooling2D":
            a = a.mean(axis=(1, 2))
        elif kind == "Flatten":
            a = a.reshape(len(a), -1)
        else:
            return None
    return a


def forward(layers, w, x):
    """Returns the activations of every layer (a[0] = x) and pre-activations."""
    a, zs = [x.astype(np.float64)], []
    for name, activation, use_bias in layers:
        z = a[-1] @ w[f"{name}/kernel"]
        if use_bias:
            z = z + w[f"{name}/bias"]
        zs.append(z)
        a.append(act(activation, z))
    return a, zs


def loss_and_output_grad(loss, y_pred, y_true, z_last, activation):
    """Loss (mean over the batch, as Keras's sum_over_batch_size) and d loss / d z_last."""
    n = len(y_pred)
    if loss == "sparse_categorical_crossentropy":
        onehot = np.eye(y_pred.shape[1])[y_true.reshape(-1)]
        p = np.clip(y_pred / y_pred.sum(-1, keepdims=True), EPS, 1 - EPS)
        value = -np.mean(np.sum(onehot * np.log(p), -1))
        assert activation == "softmax"
        return value, (y_pred - onehot) / n
    if loss == "binary_crossentropy":
        p = np.clip(y_pred, EPS, 1 - EPS)
        value = -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
        assert activation == "sigmoid"
        return value, (y_pred - y_true) / (n * y_true.shape[1])
    if loss == "mse":
        value = np.mean((y_pred - y_true) ** 2)
        assert activation in (None, "linear")
        return value, 2 * (y_pred - y_true) / (n * y_true.shape[1])
    raise ValueError(loss)


def gradients(layers, w, x, y_true, loss, l2):
    a, zs = forward(layers, w, x)
    value, dz = loss_and_output_grad(loss, a[-1], y_true, zs[-1], layers[-1][1])
    grads = {}
    for i in range(len(layers) - 1, -1, -1):
        name, activation, use_bias = layers[i]
        if i < len(layers) - 1:
            assert activation == "relu"
            dz = dz * (zs[i] > 0)
        grads[f"{name}/kernel"] = a[i].T @ dz
        if use_bias:
            grads[f"{name}/bias"] = dz.sum(0)
        if name in l2:
            grads[f"{name}/kernel"] = grads[f"{name}/kernel"] + 2 * l2[name] * w[f"{name}/kernel"]
            value += l2[name] * np.sum(w[f"{name}/kernel"] ** 2)
        dz = dz @ w[f"{name}/kernel"].T
    return value, grads


class Optimizer:
    """Keras 3's update rules (keras/src/optimizers/{sgd,rmsprop,adam}.py), float64 here."""

    def __init__(self, cfg):
        self.kind = cfg["class_name"]
        self.c = cfg["config"]
        self.state = {}
        self.t = 0

    def step(self, w, g):
        self.t += 1
        c = self.c
        lr = float(np.float32(c["learning_rate"]))
        for k in w:
            s = self.state.setdefault(k, {"m": np.zeros_like(w[k]), "v": np.zeros_like(w[k])})
            if self.kind == "SGD":
                mom = c["momentum"]
                if mom > 0:
                    s["m"] = mom * s["m"] - lr * g[k]          # m = momentum*m - lr*g
                    if c["nesterov"]:
                        w[k] = w[k] + mom * s["m"] - lr * g[k]  # w += momentum*m - lr*g
                    else:
                        w[k] = w[k] + s["m"]                    # w += m
                else:
                    w[k] = w[k] - lr * g[k]
            elif self.kind == "RMSprop":
                rho, eps = c["rho"], c["epsilon"]
                assert c["momentum"] == 0 and not c["centered"]
                s["v"] = rho * s["v"] + (1 - rho) * g[k] ** 2   # v = rho*v + (1-rho)*g^2
                w[k] = w[k] - lr * g[k] / np.sqrt(s["v"] + eps)  # eps INSIDE the sqrt
            elif self.kind == "Adam":
                b1, b2, eps = c["beta_1"], c["beta_2"], c["epsilon"]
                assert not c["amsgrad"]
                alpha = lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
                s["m"] = s["m"] + (g[k] - s["m"]) * (1 - b1)
                s["v"] = s["v"] + (g[k] ** 2 - s["v"]) * (1 - b2)
                w[k] = w[k] - alpha * s["m"] / (np.sqrt(s["v"]) + eps)  # eps OUTSIDE the sqrt
            else:
                raise ValueError(self.kind)


def load(name, suffix):
    with np.load(os.path.join(DIR, f"{name}.{suffix}.npz")) as f:
        return {k: f[k].astype(np.float64) if f[k].dtype.kind == "f" else f[k] for k in f.files}


def main():
    with open(os.path.join(DIR, "manifest.json")) as f:
        manifest = json.load(f)
    failures = 0
    checked = 0
    for fx in manifest["fixtures"]:
        name = fx["name"]
        with open(os.path.join(DIR, name + ".json")) as f:
            doc = json.load(f)
        with open(os.path.join(DIR, name + ".expected.json")) as f:
            expected = json.load(f)
        w, io = load(name, "weights"), load(name, "io")
        # Per-layer parameter counts against the weights file.
        total = sum(v.size for v in w.values())
        if total != expected["count_params"]:
            print(f"FAIL {name}: weights hold {total} values, count_params {expected['count_params']}")
            failures += 1
        if doc["class_name"] != "Sequential":
            continue
        layers = dense_layers(doc)
        if layers is None:
            y = sequential_forward(doc, w, io["x"])
            if y is not None:
                err = np.max(np.abs(y - io["y"]))
                checked += 1
                ok = err < 1e-5
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {name}: forward max |numpy - keras| = {err:.2e}")
            continue
        a, _ = forward(layers, w, io["x"])
        err = np.max(np.abs(a[-1] - io["y"]))
        checked += 1
        ok = err < 1e-5
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: forward max |numpy - keras| = {err:.2e}")

        if fx["kind"] != "steps":
            continue
        cc = doc["compile_config"]
        l2 = {}
        for layer in doc["config"]["layers"]:
            reg = layer.get("config", {}).get("kernel_regularizer")
            if reg:
                assert reg["class_name"] == "L2"
                l2[layer["config"]["name"]] = reg["config"]["l2"]
        opt = Optimizer(cc["optimizer"])
        steps = load(name, "steps")
        for step in (1, 2):
            value, g = gradients(layers, w, io["x"], io["y_true"], cc["loss"], l2)
            kloss = expected["train_on_batch_losses"][step - 1]
            opt.step(w, g)
            err = max(np.max(np.abs(w[k] - steps[f"step{step}/{k}"])) for k in w)
            ok = err < 1e-5 and abs(value - kloss) < 1e-5
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name} step {step}: max |w_numpy - w_keras| = {err:.2e}, "
                  f"loss numpy {value:.6f} keras {kloss:.6f}")
    print(f"{checked} forward checks; {'all passed' if not failures else f'{failures} FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

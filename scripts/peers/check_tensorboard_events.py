#!/usr/bin/env python3
"""Reads the TensorBoard event files `dlp train --tensorboard DIR` wrote with TensorBoard's own
EventAccumulator and checks them against the run's report (`--report R.json`), and the
`--csv-log` file, if given, against the same history.

  .venv/bin/python scripts/peers/check_tensorboard_events.py DIR R.json [--csv LOG.csv]

Checks: DIR/train and DIR/validation each hold one event file whose first event is the
file_version "brain.Event:2"; every history key has a scalar series: epoch_<key> in train
(loss, metrics, learning_rate), epoch_<key without val_> in validation, one value per epoch at
steps 0..E-1, equal to the report's float32-rounded value (epoch_learning_rate is the rate after
the epoch's callbacks, as Keras's TensorBoard reads it: the report's value one epoch later); TensorBoard's scalars plugin sees them
(plugin "scalars"); the train run holds the model config (tag "keras"). Exit status 0 when all
hold.
"""
import argparse
import csv
import glob
import json
import math
import os
import sys

import numpy as np
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("logdir")
    p.add_argument("report")
    p.add_argument("--csv")
    a = p.parse_args()
    history = json.load(open(a.report))["history"]
    epochs = len(history["loss"])
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    for run in ["train", "validation"]:
        files = glob.glob(os.path.join(a.logdir, run, "events.out.tfevents.*"))
        check(len(files) == 1, f"{run}: expected one event file, found {files}")
        if not files:
            continue
        acc = event_accumulator.EventAccumulator(files[0], size_guidance={"tensors": 0, "scalars": 0})
        acc.Reload()
        check(acc.file_version == 2.0, f"{run}: file_version {acc.file_version}")
        tags = acc.Tags()["tensors"]
        keys = [k for k in history if k.startswith("val_") == (run == "validation")]
        if run == "train" and "learning_rate" not in keys:
            keys.append("learning_rate")
        for key in keys:
            tag = "epoch_" + (key[4:] if run == "validation" else key)
            if tag not in tags:
                failures.append(f"{run}: no {tag} (tags: {sorted(tags)})")
                continue
            events = acc.Tensors(tag)
            steps = [e.step for e in events]
            values = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events]
            check(steps == list(range(epochs)), f"{run}/{tag}: steps {steps}")
            if key in history:
                want = [float(np.float32(v)) if v is not None else math.nan for v in history[key]]
                if key == "learning_rate":
                    # Keras's History gets the rate ReduceLROnPlateau saw before it reduced it;
                    # TensorBoard reads the optimizer afterwards: the rate the next epoch uses.
                    values, want = values[:-1], want[1:]
                check(
                    all(abs(x - y) <= 1e-6 * max(1.0, abs(y)) for x, y in zip(values, want)) and len(values) == len(want),
                    f"{run}/{tag}: {values} != report {want}",
                )
            meta = acc.SummaryMetadata(tag)
            check(meta.plugin_data.plugin_name == "scalars", f"{run}/{tag}: plugin {meta.plugin_data.plugin_name}")
        if run == "train":
            check("keras" in tags, "train: no model config (tag keras)")
        print(f"{run}: {files[0]}: {len(tags)} tags, {epochs} epochs")

    if a.csv:
        with open(a.csv, newline="") as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == epochs, f"csv: {len(rows)} rows for {epochs} epochs")
        check(list(rows[0].keys())[0] == "epoch" if rows else False, "csv: epoch is not the first column")
        for i, row in enumerate(rows):
            check(int(row["epoch"]) == i, f"csv row {i}: epoch {row['epoch']}")
            for key, values in history.items():
                check(key in row and float(row[key]) == values[i], f"csv row {i}: {key} {row.get(key)} != {values[i]}")
        print(f"csv: {a.csv}: {len(rows)} rows, columns {list(rows[0].keys()) if rows else []}")

    for f in failures:
        print("FAIL:", f)
    print("OK: TensorBoard reads the events and they equal the report" if not failures else f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

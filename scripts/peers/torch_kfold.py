#!/usr/bin/env python3
"""Peer: K-fold validation of the book's MLP (784-512 relu-10, RMSprop(lr=1e-3, alpha=0.9,
eps=1e-7), batch 128) with PyTorch on the first --samples Fashion-MNIST training samples, split
into --folds contiguous partitions. Each fold trains a fresh model on the other K-1 partitions
and scores the held-out one.

--pool 1: the folds run one after another in this process (torch threads: --threads, default 2).
--pool 2: a multiprocessing pool of 2 processes (spawn), 1 torch thread each, one fold per task.

Prints one JSON line: wall_seconds (from the start of main, data loading and pool start-up
included; the driver also times the whole process), kfold_seconds (the folds alone), per-fold
validation accuracy and their mean.

  .venv/bin/python scripts/peers/torch_kfold.py --folds 4 --epochs 3 --samples 12000 --pool 2
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

_DATA = None


def _init(threads, samples):
    global _DATA
    import torch
    torch.set_num_threads(threads)
    (x, y), _ = peerlib.load_fashion_mnist(flatten=True)
    _DATA = (torch.from_numpy(x[:samples]), torch.from_numpy(y[:samples]))


def run_fold(task):
    import numpy as np
    import torch

    t0 = time.perf_counter()
    fold, folds, epochs, batch_size, seed = task
    x, y = _DATA
    n = len(x)
    size = n // folds
    lo, hi = fold * size, (fold + 1) * size
    train_idx = torch.cat([torch.arange(0, lo), torch.arange(hi, n)])
    x_tr, y_tr, x_val, y_val = x[train_idx], y[train_idx], x[lo:hi], y[lo:hi]

    torch.manual_seed(seed + fold)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    m = len(x_tr)
    for epoch in range(epochs):
        perm = torch.from_numpy(np.random.RandomState(seed * 1000 + fold * 100 + epoch).permutation(m))
        for s in range(0, m, batch_size):
            idx = perm[s: s + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
    with torch.no_grad():
        logits = model(x_val)
        val_loss = float(loss_fn(logits, y_val))
        val_acc = float((logits.argmax(1) == y_val).float().mean())
    return {"fold": fold, "val_accuracy": val_acc, "val_loss": val_loss,
            "seconds": round(time.perf_counter() - t0, 3), "pid": os.getpid()}


def main():
    t_start = time.perf_counter()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=12000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--pool", type=int, choices=[1, 2], default=1)
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per process (default: 2 sequential, 1 per pool process)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    threads = args.threads or (2 if args.pool == 1 else 1)

    tasks = [(k, args.folds, args.epochs, args.batch_size, args.seed) for k in range(args.folds)]
    if args.pool == 1:
        _init(threads, args.samples)
        t0 = time.perf_counter()
        results = [run_fold(t) for t in tasks]
    else:
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        with ctx.Pool(args.pool, initializer=_init, initargs=(threads, args.samples)) as pool:
            t0 = time.perf_counter()
            results = pool.map(run_fold, tasks, chunksize=1)
    kfold_seconds = time.perf_counter() - t0
    import torch
    accs = [r["val_accuracy"] for r in results]
    peerlib.emit({
        "system": "torch-kfold-pool%d" % args.pool,
        "torch": torch.__version__,
        "pool": args.pool,
        "threads_per_process": threads,
        "folds": args.folds,
        "epochs": args.epochs,
        "samples": args.samples,
        "batch_size": args.batch_size,
        "wall_seconds": round(time.perf_counter() - t_start, 3),
        "kfold_seconds": round(kfold_seconds, 3),
        "fold_results": results,
        "mean_val_accuracy": sum(accs) / len(accs),
    })


if __name__ == "__main__":
    main()

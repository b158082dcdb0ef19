#!/usr/bin/env python3
"""Peer: the book's MLP (784-512 relu-10) trained with PyTorch, either as DistributedDataParallel
over gloo on 127.0.0.1 (--ranks N, N processes x --threads each) or in one process (--ranks 1).

The global batch (--batch-size, default 128) is split into contiguous per-rank shards (64 each for
2 ranks); every rank shuffles with the same per-epoch seed, so together they take the same steps as
one process would. Optimizer: RMSprop(lr=1e-3, alpha=0.9, eps=1e-7) (Keras's rmsprop defaults).
Loss: cross-entropy, mean over the local shard; DDP averages gradients across ranks.

Prints one JSON line (from rank 0): steady-epoch global samples/s (epoch 1 excluded), test
accuracy, and the median time of an all-reduce of a gradient-sized buffer (1.6 MB) over gloo.

  .venv/bin/python scripts/peers/torch_ddp_mlp.py --ranks 2 --threads 1 --epochs 5
  .venv/bin/python scripts/peers/torch_ddp_mlp.py --ranks 1 --threads 2 --epochs 5
"""
import argparse
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402


def build_model(torch):
    return torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, args, port, queue):
    import numpy as np
    import torch
    import torch.distributed as dist

    torch.set_num_threads(args.threads)
    distributed = args.ranks > 1
    if distributed:
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(port)
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
        dist.init_process_group("gloo", rank=rank, world_size=args.ranks)

    (x_train, y_train), (x_test, y_test) = peerlib.load_fashion_mnist(flatten=True)
    if args.samples:
        x_train, y_train = x_train[: args.samples], y_train[: args.samples]
    x_train, y_train = torch.from_numpy(x_train), torch.from_numpy(y_train)
    n = len(x_train)

    torch.manual_seed(args.seed)
    model = build_model(torch)
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()

    B = args.batch_size
    epoch_seconds = []
    for epoch in range(args.epochs):
        perm = torch.from_numpy(np.random.RandomState(args.seed * 1000 + epoch).permutation(n))
        if distributed:
            dist.barrier()
        t0 = time.perf_counter()
        model.train()
        for start in range(0, n, B):
            idx = perm[start: min(start + B, n)]
            # Contiguous shard of the global batch for this rank.
            m = len(idx)
            lo = rank * m // args.ranks
            hi = (rank + 1) * m // args.ranks
            shard = idx[lo:hi]
            xb, yb = x_train[shard], y_train[shard]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        if distributed:
            dist.barrier()
        epoch_seconds.append(time.perf_counter() - t0)

    allreduce_ms = None
    if distributed:
        params = sum(p.numel() for p in model.parameters())
        buf = torch.ones(params, dtype=torch.float32)
        times = []
        for i in range(40):
            dist.barrier()
            t = time.perf_counter()
            dist.all_reduce(buf)
            times.append(time.perf_counter() - t)
        allreduce_ms = statistics.median(times[5:]) * 1e3

    if rank == 0:
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(x_test))
            accuracy = float((logits.argmax(1).numpy() == y_test).mean())
            test_loss = float(loss_fn(logits, torch.from_numpy(y_test)))
        params = sum(p.numel() for p in model.parameters())
        queue.put({
            "system": "torch-ddp" if distributed else "torch",
            "torch": torch.__version__,
            "ranks": args.ranks,
            "threads_per_rank": args.threads,
            "epochs": args.epochs,
            "batch_size": B,
            "train_samples": n,
            "epoch_seconds": [round(s, 4) for s in epoch_seconds],
            "samples_per_second": round(peerlib.steady_rate(epoch_seconds, n), 1),
            "steady_epochs": max(len(epoch_seconds) - 1, 1),
            "test_accuracy": accuracy,
            "test_loss": test_loss,
            "gradient_bytes": params * 4,
            "allreduce_ms_median": None if allreduce_ms is None else round(allreduce_ms, 3),
            "peak_rss_mb_rank0": round(peerlib.peak_rss_mb(), 1),
        })
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads per rank")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128, help="global batch (split across ranks)")
    p.add_argument("--samples", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    import torch.multiprocessing as mp

    t0 = time.perf_counter()
    if args.ranks == 1:
        import queue as q
        out = q.Queue()
        worker(0, args, 0, out)
    else:
        ctx = mp.get_context("spawn")
        out = ctx.SimpleQueue()
        mp.start_processes(worker, args=(args, free_port(), out), nprocs=args.ranks,
                           join=True, start_method="spawn")
    record = out.get()
    record["wall_seconds"] = round(time.perf_counter() - t0, 3)
    peerlib.emit(record)


if __name__ == "__main__":
    main()

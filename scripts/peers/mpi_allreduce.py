#!/usr/bin/env python3
"""Peer: MPI_Allreduce (float32, SUM) with mpi4py, for comparison with `dlp bench allreduce`.

  mpirun --allow-run-as-root --oversubscribe -np 2 .venv/bin/python scripts/peers/mpi_allreduce.py \
      --bytes 4194304 --iterations 20

Over tcp only (what DLP's ring over tcp is compared with; vader shared memory excluded):
  mpirun ... --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo -np 2 ...

SIZE accepts plain bytes or a suffix: 4MiB, 4M (= MiB), 4MB (= 10^6). Each iteration starts after
a barrier; its time is the slowest rank's. Prints one JSON line (rank 0): median_seconds and
bus_gbps = 2(N-1)/N * SIZE / median_seconds / 1e9, as `dlp bench allreduce` reports.
"""
import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B?|B)?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    value, unit = float(m.group(1)), (m.group(2) or "").upper()
    scale = {"": 1, "B": 1, "K": 1 << 10, "KIB": 1 << 10, "KB": 10**3, "M": 1 << 20, "MIB": 1 << 20,
             "MB": 10**6, "G": 1 << 30, "GIB": 1 << 30, "GB": 10**9}[unit]
    return int(value * scale)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bytes", type=parse_size, required=True)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()

    import numpy as np
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    count = args.bytes // 4
    send = np.full(count, float(rank + 1), dtype=np.float32)
    recv = np.empty_like(send)

    times = []
    for i in range(args.warmup + args.iterations):
        comm.Barrier()
        t0 = MPI.Wtime()
        comm.Allreduce(send, recv, op=MPI.SUM)
        elapsed = MPI.Wtime() - t0
        slowest = comm.allreduce(elapsed, op=MPI.MAX)
        if i >= args.warmup:
            times.append(slowest)

    expected = size * (size + 1) / 2
    ok = bool(np.all(recv == expected))
    if rank == 0:
        median = statistics.median(times)
        nbytes = count * 4
        peerlib.emit({
            "system": "mpi4py",
            "mpi": MPI.Get_library_version().replace("\x00", "").strip().splitlines()[0].split(",")[0],
            "mpi4py": __import__("mpi4py").__version__,
            # mpirun hands --mca settings to the ranks as OMPI_MCA_* variables.
            "btl": os.environ.get("OMPI_MCA_btl", "default"),
            "pml": os.environ.get("OMPI_MCA_pml", "default"),
            "workers": size,
            "bytes": nbytes,
            "iterations": args.iterations,
            "median_seconds": median,
            "min_seconds": min(times),
            "bus_gbps": 2 * (size - 1) / size * nbytes / median / 1e9,
            "algbw_gbps": nbytes / median / 1e9,
            "correct": ok,
        })
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()

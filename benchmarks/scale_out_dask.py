#!/usr/bin/env python3
"""Runs the shards of a relu-regions batch on a local Dask cluster and prints the results.

    python3 benchmarks/scale_out_dask.py BINARY JOBS.jsonl OUTDIR [SHARDS]

Each Dask task runs `BINARY batch JOBS --out OUTDIR --shard i/N --threads 1 --resume` and
returns its result lines (plain dicts); the script prints one JSON object:
{"results": [...], "cluster_seconds": ..., "shard_seconds": ...}. Needs `dask[distributed]`.
Used by the optional test in tests/it/batch.rs (RELU_REGIONS_DASK=1) and docs/scale-out.md.
"""
import json
import subprocess
import sys
import time


def run_shard(i, n, binary, jobs, out):
    subprocess.run([binary, "batch", jobs, "--out", out, "--shard", f"{i}/{n}",
                    "--threads", "1", "-q", "--resume"], check=False,
                   stdout=subprocess.DEVNULL)
    with open(f"{out}/results-{i}-of-{n}.jsonl") as f:
        return [json.loads(line) for line in f]


def main():
    binary, jobs, out = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    from dask.distributed import Client, LocalCluster
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t1 = time.perf_counter()
        futures = client.map(run_shard, range(n), n=n, binary=binary, jobs=jobs, out=out)
        results = sum(client.gather(futures), [])
        t2 = time.perf_counter()
    print(json.dumps({"results": results, "cluster_seconds": t1 - t0, "shard_seconds": t2 - t1}))


if __name__ == "__main__":
    main()

"""Run every benchmark in sequence, each in its own process.

Each benchmark runs in its own Python process (they set global torch state such as
the default dtype and the thread count, and the solver benchmark measures peak
memory), one after the other so they never compete for the cores. Every one prints
its markdown tables and writes them to ``benchmarks/results/``.

Run: ``python benchmarks/run_all.py [--quick]`` (``make bench``); ``--quick`` is
passed on to each benchmark (small graphs, a smoke test). The exit status is
non-zero if any benchmark failed; the others still run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "bench_operators.py",
    "bench_cg.py",
    "bench_solvers.py",
    "bench_adaptive.py",
    "bench_models.py",
    "bench_training.py",
    "bench_grand.py",
    "bench_scale.py",
    "bench_nsd.py",
)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return the number that failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small graphs only (passed on to each)"
    )
    opts = parser.parse_args(argv)
    flags = ["--quick"] if opts.quick else []
    failed: list[str] = []
    for name in BENCHMARKS:
        print(f"\n=== {name} {' '.join(flags)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(HERE / name), *flags]).returncode
        print(
            f"=== {name}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True
        )
        if rc != 0:
            failed.append(f"{name} (exit {rc})")
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return len(failed)


if __name__ == "__main__":
    sys.exit(1 if main() else 0)

"""Fourier analysis against a bare FFT of the same tensor, side by side in one run.

`interp.extract_frequencies` on weights [models, neurons, p] (default [1000, 500, 97]: a thousand
checkpoints or models of the Doshi network's width) against `torch.fft.rfft(x).abs()` of the same
tensor, the least any spectrum costs. Prints the best of `--repeats` timings of each, their ratio
(target: <= 1.5) and the peak resident memory.

`--many 10000`: then the spectrum of that many model-checkpoints of [500, 97] at once (the
analysis chunks them: `extract_frequencies(..., chunk_elements)`), timed once, with the peak
memory beside the input's own size.

Usage:
    python benchmarks/analysis_speed.py [--shape 1000 500 97] [--threads 2] [--repeats 5]
    python benchmarks/analysis_speed.py --many 10000
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from datetime import datetime

import torch

from interp.fourier import extract_frequencies


def _best(fn, repeats: int) -> float:
    fn()  # warm up (allocator, FFT plans)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[1000, 500, 97])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--many", type=int, help="time this many [500, 97] checkpoints once")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.many:
        x = torch.randn(args.many, 500, 97, generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        spectrum = extract_frequencies(x)
        seconds = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{args.many} checkpoints of [500, 97] ({x.numel() * 4 / 2**30:.2f} GiB): "
            f"{seconds:.1f} s, {args.threads} thread(s), peak memory {peak_mib:.0f} MiB, "
            f"power {tuple(spectrum.power.shape)}"
        )
        return
    x = torch.randn(*args.shape, generator=torch.Generator().manual_seed(0))
    bare = _best(lambda: torch.fft.rfft(x, dim=-1).abs(), args.repeats)
    ours = _best(lambda: extract_frequencies(x), args.repeats)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = {
        "shape": args.shape,
        "threads": args.threads,
        "bare_rfft_abs_s": round(bare, 4),
        "extract_frequencies_s": round(ours, 4),
        "ratio": round(ours / bare, 2),
        "peak_rss_mib": round(peak_mib),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "date": datetime.now().date().isoformat(),
    }
    if args.json:
        print(json.dumps(record))
        return
    print(f"weights {tuple(args.shape)}, {args.threads} thread(s), best of {args.repeats}")
    print(f"  bare rfft + abs      {bare:.3f} s")
    print(f"  extract_frequencies  {ours:.3f} s   ratio {ours / bare:.2f} (target <= 1.5)")
    print(f"  peak memory          {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()

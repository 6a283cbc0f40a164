"""Fourier analysis against a bare FFT of the same tensor, side by side in one run.

`interp.extract_frequencies` on weights [models, neurons, p] (default [1000, 500, 97]: a thousand
checkpoints or models of the Doshi network's width) against `torch.fft.rfft(x).abs()` of the same
tensor, the least any spectrum costs. Prints the best of `--repeats` timings of each, their ratio
(target: <= 1.5) and the peak resident memory.

`--many 10000`: then the spectrum of that many model-checkpoints of [500, 97] at once (the
analysis chunks them: `extract_frequencies(..., chunk_elements)`), timed once, with the peak
memory beside the input's own size.

`--curves`: the curves over the shipped runs (`extraction_curve` of add_p97_noise080 with the
three methods, `generation_curve` and `basin_curve` of dit_group2_d16), each with every checkpoint
in one batched call against one checkpoint at a time (`stack=1`), on `--device`, with their
ratio (target: >= 5) and whether the two gave the same numbers. `--basin-steps K` keeps the
basin curve to its last K checkpoints (about 9 s each on a 2-core CPU).

Usage:
    python benchmarks/analysis_speed.py [--shape 1000 500 97] [--threads 2] [--repeats 5]
    python benchmarks/analysis_speed.py --many 10000
    python benchmarks/analysis_speed.py --curves [--device cuda] [--basin-steps 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from datetime import datetime
from pathlib import Path

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
    parser.add_argument("--curves", action="store_true", help="time the curves over runs")
    parser.add_argument("--device", default="auto", help="where the curves run")
    parser.add_argument("--basin-steps", type=int, default=3, help="checkpoints of basin_curve")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.curves:
        _curves(args)
        return
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


def _curves(args: argparse.Namespace) -> None:
    """Each curve with its checkpoints stacked as models, then one at a time (`stack=1`)."""
    import interp
    from interp.core.device import resolve_device

    def synchronize(device: torch.device) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    device = resolve_device(args.device)
    noisy, dit = (
        interp.load_run(RUNS / "add_p97_noise080"),
        interp.load_run(RUNS / "dit_group2_d16"),
    )
    basin_steps = dit.steps[-args.basin_steps :]
    curves = {
        "extraction_curve": lambda stack: (
            interp.extraction_curve(noisy, ("neuron", "key", "logits"), device=device, stack=stack)[
                1
            ]["neuron"].test
        ),
        "generation_curve": lambda stack: (
            interp.generation_curve(dit, samples=512, device=device, stack=stack)[1].valid
        ),
        "basin_curve": lambda stack: interp.basin_curve(
            dit, steps=basin_steps, device=device, stack=stack
        )[1]["training"],
    }
    rows = []
    for name, curve in curves.items():
        run = noisy if name == "extraction_curve" else dit
        steps = basin_steps if name == "basin_curve" else run.steps
        times, values = {}, {}
        for stack in (len(steps), 1):
            curve(stack)  # warm up
            synchronize(device)
            start = time.perf_counter()
            values[stack] = curve(stack)
            synchronize(device)
            times[stack] = time.perf_counter() - start
        same = torch.allclose(values[1], values[len(steps)], atol=1e-6)
        rows.append(
            {
                "curve": name,
                "checkpoints": len(steps),
                "stacked_s": round(times[len(steps)], 3),
                "step_by_step_s": round(times[1], 3),
                "ratio": round(times[1] / times[len(steps)], 2),
                "same_numbers": same,
            }
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps({"device": str(device), "curves": rows, "peak_rss_mib": round(peak_mib)}))
        return
    print(f"curves over the shipped runs on {device}, {args.threads} thread(s) (target >= 5x)")
    for r in rows:
        print(
            f"  {r['curve']:17s} {r['checkpoints']:2d} ckpts  stacked {r['stacked_s']:7.2f} s  "
            f"step by step {r['step_by_step_s']:7.2f} s  ratio {r['ratio']:.2f}  "
            f"same numbers {r['same_numbers']}"
        )
    print(f"  peak memory {peak_mib:.0f} MiB")


RUNS = Path(__file__).resolve().parent.parent / "checkpoints"

if __name__ == "__main__":
    main()

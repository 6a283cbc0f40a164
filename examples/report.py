"""Write the report page of each shipped run: every figure of its analyses on one offline page.

    python examples/report.py [--out reports] [--runs checkpoints/add_p97_noise080 ...]

For each run, `reports/<run name>/report.html` with one `plotly.min.js` beside it (and
`png/<figure>.png` when kaleido and a Chromium are installed): training with the extracted test
accuracy at every saved step, the extraction methods against the labels-only baselines, neuron
spectra, phases, dominant frequencies and IPR, the logit circuit, the three partitions and their
kept-fraction curves, and linear probes of the hidden layer. Same as `interp report RUN --out DIR`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from interp.studies.label_noise.report import write_report

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
SHIPPED = [CHECKPOINTS / "add_p97_noise080", CHECKPOINTS / "doshi_p97_noise035_wd0"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports"), help="parent folder")
    parser.add_argument("--runs", type=Path, nargs="+", default=SHIPPED, help="run folders")
    args = parser.parse_args()
    for run in args.runs:
        start = time.perf_counter()
        page = write_report(run, args.out / run.name)
        size = page.stat().st_size / 1e6
        print(f"{page}  ({size:.2f} MB + plotly.min.js, {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

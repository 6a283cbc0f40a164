"""EdgeBank, the memorization baseline of dynamic link prediction (Poursafaei et al. 2022).

    python examples/edgebank.py [EDGES]

With a stream file (`src dst t` text or a DGB/TGB CSV; e.g. the UCI message network,
CollegeMsg.txt): AP and AUC of EdgeBank's unlimited and windowed memory under the random,
historical and inductive negative samplers, as DGB evaluates. Without one: generated streams whose
events repeat an earlier pair with a set probability, showing how the score of memory alone
follows the recurrence of the data. Seconds on the CPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from interp.studies.edgebank import NEGATIVES, EdgeBank, evaluate
from interp.tasks.edges import chronological_split, edge_stream, load_edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("edges", type=Path, nargs="?", help="a stream file (default: generated)")
    args = parser.parse_args()
    if args.edges is not None:
        split = chronological_split(load_edges(args.edges), seed=0)
        print("| negatives | memory | AP | AUC |\n|---|---|---|---|")
        for negatives in NEGATIVES:
            for mode in ("unlimited", "window"):
                s = evaluate(EdgeBank(mode), split, negatives)
                print(f"| {negatives} | {mode} | {s.ap:.3f} | {s.auc:.3f} |")
        return
    print("| recurrence | random AUC | historical AUC | inductive AUC |\n|---|---|---|---|")
    for recurrence in (0.0, 0.3, 0.6, 0.9):
        split = chronological_split(edge_stream(200, 20000, recurrence, seed=0), seed=0)
        aucs = [evaluate(EdgeBank(), split, n).auc for n in NEGATIVES]
        print(f"| {recurrence} | " + " | ".join(f"{a:.3f}" for a in aucs) + " |")


if __name__ == "__main__":
    main()

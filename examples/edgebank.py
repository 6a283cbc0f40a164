"""EdgeBank, the memorization baseline of dynamic link prediction (Poursafaei et al. 2022), and a
learned scorer beside it.

    python examples/edgebank.py [EDGES] [--learned] [--figures DIR]

With a stream file (`src dst t` text or a DGB/TGB CSV; e.g. the UCI message network,
CollegeMsg.txt): AP and AUC of EdgeBank's unlimited and windowed memory under the random,
historical and inductive negative samplers, as DGB evaluates. Without one: generated streams whose
events repeat an earlier pair with a set probability, showing how the score of memory alone
follows the recurrence of the data. With `--learned`, a small learned scorer (`LinkModel`: node
embeddings and an MLP, learning online through the test) is evaluated the same way beside
EdgeBank, with the memory split of both (their AUC on the test pairs seen before and on new
ones), drawn with `--figures` (memory_split.html). Seconds on the CPU; about half a minute with
`--learned` on UCI.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from interp.studies.edgebank import NEGATIVES, EdgeBank, LinkModel, evaluate, memory_split
from interp.studies.edgebank.plots import memory_bars
from interp.tasks.edges import EdgeSplit, chronological_split, edge_stream, load_edges


def learned(split: EdgeSplit) -> LinkModel:
    """The learned scorer, fresh (its first `update`, the training edges, trains it)."""
    return LinkModel(split.stream.nodes, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("edges", type=Path, nargs="?", help="a stream file (default: generated)")
    parser.add_argument("--learned", action="store_true", help="also a learned scorer")
    parser.add_argument("--figures", type=Path, help="with --learned: write the memory figure")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.edges is not None:
        split = chronological_split(load_edges(args.edges), seed=0)
        rows, splits, drawn = [], [], {"EdgeBank": {}, "learned": {}}
        for negatives in NEGATIVES:
            for mode in ("unlimited", "window"):
                s = evaluate(EdgeBank(mode), split, negatives)
                rows.append(f"| {negatives} | EdgeBank {mode} | {s.ap:.3f} | {s.auc:.3f} |")
            if args.learned:
                for name, scorer in (("EdgeBank", EdgeBank()), ("learned", learned(split))):
                    m = memory_split(scorer, split, negatives)
                    drawn[name][negatives] = m
                    splits.append(
                        f"| {negatives} | {name} | {m.negatives_in_memory:.3f} | "
                        f"{m.auc_repeat:.3f} | {m.auc_new:.3f} | {m.ap_repeat:.3f} | "
                        f"{m.ap_new:.3f} | {m.memory_auc:.3f} |"
                    )
                rows.append(f"| {negatives} | learned | {m.scores.ap:.3f} | {m.scores.auc:.3f} |")
        print("| negatives | scorer | AP | AUC |\n|---|---|---|---|")
        print("\n".join(rows))
        if args.learned:
            print(
                f"\nmemory split (repeats: {m.repeats:.1%} of the test positives)\n\n"
                "| negatives | scorer | negatives in memory | AUC repeat | AUC new | AP repeat "
                "| AP new | memory AUC |\n|---|---|---|---|---|---|---|---|"
            )
            print("\n".join(splits))
            if args.figures:
                args.figures.mkdir(parents=True, exist_ok=True)
                memory_bars(drawn).write_html(args.figures / "memory_split.html")
        print(f"\n{time.perf_counter() - start:.0f} s")
        return
    header = "| recurrence | random AUC | historical AUC | inductive AUC |"
    if args.learned:
        header = header.replace(" AUC", " AUC (EdgeBank / learned)")
    print(header + "\n|---|---|---|---|")
    for recurrence in (0.0, 0.3, 0.6, 0.9):
        split = chronological_split(edge_stream(200, 20000, recurrence, seed=0), seed=0)
        cells = []
        for negatives in NEGATIVES:
            cell = f"{evaluate(EdgeBank(), split, negatives).auc:.3f}"
            if args.learned:
                cell += f" / {evaluate(learned(split), split, negatives).auc:.3f}"
            cells.append(cell)
        print(f"| {recurrence} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

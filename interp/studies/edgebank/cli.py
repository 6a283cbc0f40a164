"""The EdgeBank command: `interp edgebank EDGES` scores a temporal edge stream's test period with
EdgeBank (unlimited and windowed memory) under DGB's three negative samplers and prints AP and
AUC, the memorization baseline any dynamic link predictor must beat."""

from __future__ import annotations

import argparse
from pathlib import Path

from interp.cli import print_json
from interp.studies.edgebank.evaluation import NEGATIVES, evaluate
from interp.studies.edgebank.memory import MODES, EdgeBank
from interp.studies.edgebank.ranking import one_vs_many
from interp.tasks.edges import chronological_split, load_edges

__all__ = ["add_arguments", "run"]


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "EdgeBank on a temporal edge stream (a `src dst t` text file or a DGB/TGB CSV): AP and "
        "AUC on the test period (after the 0.85 time quantile) for each memory and negative "
        "sampler, as DGB evaluates (batches of 200, memory learned through the test)."
    )
    parser.add_argument("edges", type=Path, help="the stream file")
    parser.add_argument("--memory", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--negatives", nargs="+", choices=NEGATIVES, default=list(NEGATIVES))
    parser.add_argument("--window", type=float, default=0.15, help="window share of the history")
    parser.add_argument("--batch", type=int, default=200, help="test events per batch")
    parser.add_argument("--seed", type=int, default=0, help="new nodes and negatives")
    parser.add_argument(
        "--mrr",
        type=int,
        metavar="K",
        help="also TGB's one-vs-many MRR against K hist_rnd negatives",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")


def run(args: argparse.Namespace, command: str) -> None:
    stream = load_edges(args.edges)
    split = chronological_split(stream, seed=args.seed)
    rows = []
    for negatives in args.negatives:
        for mode in args.memory:
            bank = EdgeBank(mode, window=args.window)
            scores = evaluate(bank, split, negatives, batch_size=args.batch, seed=args.seed)
            rows.append(
                {"negatives": negatives, "memory": mode, "ap": scores.ap, "auc": scores.auc}
            )
    ranks = {}
    if args.mrr is not None:
        for mode in args.memory:
            bank = EdgeBank(mode, window=args.window)
            ranks[mode] = one_vs_many(bank, split, args.mrr, args.batch, args.seed)
    if args.json:
        print_json({"edges": str(args.edges), "events": len(stream), "rows": rows, "mrr": ranks})
        return
    print(
        f"{args.edges}: {len(stream)} events, {stream.nodes} node ids; test: "
        f"{int(split.test.sum())} events in batches of {args.batch}"
    )
    print("negatives   memory            AP      AUC")
    for row in rows:
        print(f"{row['negatives']:<10}  {row['memory']:<12}  {row['ap']:6.3f}  {row['auc']:6.3f}")
    for mode, value in ranks.items():
        print(f"one-vs-many MRR, {mode} memory, {args.mrr} hist_rnd negatives: {value:.3f}")

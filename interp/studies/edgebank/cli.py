"""The EdgeBank command: `interp edgebank EDGES` scores a temporal edge stream's test period with
EdgeBank (unlimited and windowed memory) under DGB's three negative samplers and prints AP and
AUC, the memorization baseline any dynamic link predictor must beat. With `--scorer learned` a
small learned scorer (`LinkModel`) is evaluated the same way beside it, with the memory split of
both: how much of each score is memory."""

from __future__ import annotations

import argparse
from pathlib import Path

from interp.cli import print_json
from interp.studies.edgebank.evaluation import NEGATIVES, evaluate, memory_split
from interp.studies.edgebank.learned import LinkModel
from interp.studies.edgebank.memory import MODES, EdgeBank
from interp.studies.edgebank.ranking import one_vs_many
from interp.tasks.edges import chronological_split, load_edges

__all__ = ["add_arguments", "run"]

SCORERS = ("edgebank", "learned")
# The learned scorer's options: name -> (default, least value, help); an error with edgebank.
LEARNED = {
    "epochs": (5, 1, "training passes over the training and validation edges"),
    "dim": (32, 1, "node embedding size"),
    "hidden": (64, 1, "width of the MLP's hidden layer"),
    "online_steps": (3, 0, "Adam steps on each test batch after it is scored (0: frozen)"),
}


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "EdgeBank on a temporal edge stream (a `src dst t` text file or a DGB/TGB CSV): AP and "
        "AUC on the test period (after the 0.85 time quantile) for each memory and negative "
        "sampler, as DGB evaluates (batches of 200, memory learned through the test). "
        "`--scorer learned` adds a learned scorer (node embeddings and an MLP, trained on the "
        "training and validation edges, learning online through the test) and the memory split: "
        "each scorer's AUC on the test pairs seen before (repeats) and on new ones."
    )
    parser.add_argument("edges", type=Path, help="the stream file")
    parser.add_argument("--memory", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--negatives", nargs="+", choices=NEGATIVES, default=list(NEGATIVES))
    parser.add_argument("--window", type=float, default=0.15, help="window share of the history")
    parser.add_argument("--batch", type=int, default=200, help="test events per batch")
    parser.add_argument(
        "--seed", type=int, default=0, help="new nodes, negatives and the learned scorer"
    )
    parser.add_argument(
        "--mrr",
        type=int,
        metavar="K",
        help="also TGB's one-vs-many MRR against K hist_rnd negatives",
    )
    parser.add_argument(
        "--scorer",
        choices=SCORERS,
        default="edgebank",
        help="edgebank alone, or a learned scorer beside it (default edgebank)",
    )
    for name, (default, _, help_) in LEARNED.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=int, help=f"learned scorer: {help_} (default {default})")
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the learned scorer's progress bar"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")


def _learned(args: argparse.Namespace, nodes: int) -> LinkModel:
    """A fresh learned scorer from the command's options."""
    options = {}
    for name, (default, least, _) in LEARNED.items():
        value = default if getattr(args, name) is None else getattr(args, name)
        if value < least:
            raise ValueError(f"--{name.replace('_', '-')} {value} must be >= {least}")
        options[name] = value
    return LinkModel(nodes, seed=args.seed, progress=not args.no_progress, **options)


def run(args: argparse.Namespace, command: str) -> None:
    given = ["--" + k.replace("_", "-") for k in LEARNED if getattr(args, k) is not None]
    if args.scorer == "edgebank" and given:
        raise ValueError(f"{', '.join(given)}: only with --scorer learned")
    stream = load_edges(args.edges)
    split = chronological_split(stream, seed=args.seed)
    if args.scorer == "learned":
        _learned(args, stream.nodes)  # check the options before any work
    rows, splits = [], []
    for negatives in args.negatives:
        for mode in args.memory:
            bank = EdgeBank(mode, window=args.window)
            scores = evaluate(bank, split, negatives, batch_size=args.batch, seed=args.seed)
            rows.append(
                {
                    "negatives": negatives,
                    "scorer": "edgebank",
                    "memory": mode,
                    "ap": scores.ap,
                    "auc": scores.auc,
                }
            )
        if args.scorer == "learned":
            scorers = {"edgebank": EdgeBank(), "learned": _learned(args, stream.nodes)}
            for name, scorer in scorers.items():
                result = memory_split(
                    scorer, split, negatives, batch_size=args.batch, seed=args.seed
                )
                fields = {k: v for k, v in vars(result).items() if k != "scores"}
                splits.append({"negatives": negatives, "scorer": name, **fields})
            scores = result.scores  # the learned scorer's
            rows.append(
                {
                    "negatives": negatives,
                    "scorer": "learned",
                    "memory": None,
                    "ap": scores.ap,
                    "auc": scores.auc,
                }
            )
    ranks = {}
    if args.mrr is not None:
        for mode in args.memory:
            bank = EdgeBank(mode, window=args.window)
            ranks[mode] = one_vs_many(bank, split, args.mrr, args.batch, args.seed)
        if args.scorer == "learned":
            model = _learned(args, stream.nodes)
            ranks["learned"] = one_vs_many(model, split, args.mrr, args.batch, args.seed)
    if args.json:
        record = {"edges": str(args.edges), "events": len(stream), "rows": rows, "mrr": ranks}
        if args.scorer == "learned":
            record["memory_split"] = splits
        print_json(record)
        return
    print(
        f"{args.edges}: {len(stream)} events, {stream.nodes} node ids; test: "
        f"{int(split.test.sum())} events in batches of {args.batch}"
    )
    if args.scorer == "edgebank":
        print("negatives   memory            AP      AUC")
        for row in rows:
            print(
                f"{row['negatives']:<10}  {row['memory']:<12}  {row['ap']:6.3f}  {row['auc']:6.3f}"
            )
    else:
        print("negatives   scorer    memory            AP      AUC")
        for row in rows:
            memory = row["memory"] or "-"
            print(
                f"{row['negatives']:<10}  {row['scorer']:<8}  {memory:<12}  {row['ap']:6.3f}  "
                f"{row['auc']:6.3f}"
            )
        print(
            f"memory split: repeats are test pairs in EdgeBank's unlimited memory when scored\n"
            f"({splits[0]['repeats']:.1%} of the test positives), new the others; each class "
            "against all the negatives"
        )
        print(
            "negatives   scorer    neg-in-memory  AUC-repeat  AUC-new  AP-repeat  AP-new  "
            "memory-AUC"
        )
        for s in splits:
            print(
                f"{s['negatives']:<10}  {s['scorer']:<8}  {s['negatives_in_memory']:13.3f}  "
                f"{s['auc_repeat']:10.3f}  {s['auc_new']:7.3f}  {s['ap_repeat']:9.3f}  "
                f"{s['ap_new']:6.3f}  {s['memory_auc']:10.3f}"
            )
    for mode, value in ranks.items():
        name = "learned scorer" if mode == "learned" else f"{mode} memory"
        print(f"one-vs-many MRR, {name}, {args.mrr} hist_rnd negatives: {value:.3f}")

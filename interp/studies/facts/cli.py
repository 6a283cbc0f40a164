"""The fact-capacity command: `interp facts` trains a FactNet or a fact GPT on random name ->
K-digit facts, one ensemble over the seeds per fact base size N, and prints the facts each model
stores (exact match of all K digits) and the bits stored per trainable parameter.

    interp facts --model factnet --names 250 1000 4000 --steps 3000
    interp facts --model gpt --names 500 --d-model 32 --layers 1 --steps 1000 --json
    interp facts --model gpt --name-codes --names 500 2000 --d-model 16
    interp facts --names 4000 --select 1000 1600 [--random] --warmup 300

`--select M ...` trains `--warmup` steps on the base as it comes, keeps each model's M
lowest-loss names with flat frequencies (`--random`: M names at random, the control) and trains
the remaining steps on them; facts are counted over the whole base. `--name-codes` gives the GPT
fixed random name codes (`GPTConfig(name_codes=True)`): its trainable parameters do not grow with
N, as FactNet's do not. `--out DIR` (a new or empty
folder; runs are never overwritten) saves one run per N, `DIR/names_N`.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from interp.cli import device_options, no_repeats, print_json

__all__ = ["add_arguments", "run"]

MODELS = ("factnet", "gpt")


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Fact capacity (Ye, Feldman, Talwar 2026): train a FactNet or a fact GPT on N names "
        "mapped to random K-digit values (Zipf frequencies) and print the facts stored and the "
        "bits per trainable parameter, per model."
    )
    parser.add_argument("--model", choices=MODELS, default="factnet")
    parser.add_argument("--names", type=int, nargs="+", default=[250, 1000], help="N per run")
    parser.add_argument("--digits", type=int, default=2, help="K digits per value")
    parser.add_argument("--exponent", type=float, default=1.0, help="Zipf exponent (0: flat)")
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="fact base and init")
    parser.add_argument("--width", type=int, default=64, help="FactNet hidden neurons")
    parser.add_argument("--embed", type=int, default=32, help="FactNet fixed code size")
    parser.add_argument("--d-model", type=int, default=32, help="GPT residual width")
    parser.add_argument("--layers", type=int, default=1, help="GPT blocks")
    parser.add_argument("--heads", type=int, default=2, help="GPT attention heads")
    parser.add_argument("--d-mlp", type=int, help="GPT MLP width (default 4 d_model)")
    parser.add_argument(
        "--name-codes", action="store_true", help="GPT names as fixed random codes (not trained)"
    )
    parser.add_argument("--steps", type=int, default=3000, help="AdamW steps in all")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, help="names per step (default: full batch)")
    parser.add_argument("--select", type=int, nargs="+", metavar="M", help="keep M names")
    parser.add_argument("--random", action="store_true", help="--select at random (control)")
    parser.add_argument("--warmup", type=int, help="steps before selection (default steps/10)")
    parser.add_argument("--out", type=Path, help="save the runs: a new or empty folder")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    device_options(parser)


def _check(args: argparse.Namespace) -> None:
    no_repeats(args, ("names", "seed") + (("select",) if args.select else ()))
    if args.name_codes and args.model != "gpt":
        raise ValueError("--name-codes goes with --model gpt (FactNet's codes are always fixed)")
    if args.select is None:
        if args.random or args.warmup is not None:
            raise ValueError("--random and --warmup go with --select M")
        return
    if args.out is not None:
        raise ValueError(
            "--out saves runs of the fact base as it comes; --select trains on an "
            "in-memory selection (drop one)"
        )
    warmup = args.steps // 10 if args.warmup is None else args.warmup
    if not 1 <= warmup < args.steps:
        raise ValueError(f"--warmup {warmup} must be in [1, --steps {args.steps})")
    if min(args.select) < 1 or max(args.select) > min(args.names):
        raise ValueError(f"--select {' '.join(map(str, args.select))}: each M in [1, min N]")


def _model(args: argparse.Namespace, names: int, seeds: list[int]):
    if args.model == "factnet":
        from interp.models.factnet import FactNet, FactNetConfig

        return FactNet(
            FactNetConfig(
                names=names,
                digits=args.digits,
                embed=args.embed,
                width=args.width,
                models=len(seeds),
                seed=tuple(seeds),
            )
        )
    from interp.models.gpt import GPT, GPTConfig

    return GPT(
        GPTConfig(
            names=names,
            d=args.digits,
            d_model=args.d_model,
            n_layers=args.layers,
            n_heads=args.heads,
            d_mlp=args.d_mlp or 4 * args.d_model,
            name_codes=args.name_codes,
            models=len(seeds),
            seed=tuple(seeds),
        )
    )


def run(args: argparse.Namespace, command: str) -> None:
    from interp.core.device import resolve_device
    from interp.core.runs import check_new_folder
    from interp.core.training import TrainConfig, train
    from interp.studies.facts.selection import random_subset, select_by_loss
    from interp.tasks.facts import bits_stored, fact_task, facts_known

    _check(args)
    device = resolve_device(args.device)
    keeps = args.select or [None]
    grid = list(itertools.product(keeps, args.seed))  # one ensemble per N over (M, seed)
    seeds = [s for _, s in grid]
    # Validate everything and claim no folder before the first model trains.
    tasks = {n: fact_task(n, args.digits, args.exponent, seeds) for n in args.names}
    models = {n: _model(args, n, seeds) for n in args.names}
    warmup = (args.steps // 10 if args.warmup is None else args.warmup) if args.select else 0
    common = dict(lr=args.lr, loss="ce", batch_size=args.batch_size)
    configs = [
        TrainConfig(steps=s, log_every=s, **common)
        for s in ((warmup, args.steps - warmup) if args.select else (args.steps,))
    ]
    if args.out is not None:
        check_new_folder(args.out, "choose a new folder (runs are never overwritten)")
    progress = not args.no_progress and not args.json
    rows = []
    for n in args.names:
        task, model = tasks[n], models[n]
        out = None if args.out is None else args.out / f"names_{n}"
        model = train(model, task, configs[0], out, device, progress, command).model
        if args.select:
            keep = [k for k, _ in grid]
            chosen = random_subset(task, keep) if args.random else select_by_loss(model, task, keep)
            model = train(model, chosen, configs[1], None, device, progress).model
        known = facts_known(model.recall(n), task)
        parameters = model.cfg.parameters
        bits = bits_stored(known, task, parameters)
        for (keep, seed), k, b in zip(grid, known.tolist(), bits.tolist()):
            row = {"names": n, "seed": seed, "parameters": parameters, "facts_known": int(k)}
            rows.append(row | ({"keep": keep} if args.select else {}) | {"bits_per_param": b})
    what = {"model": args.model, "digits": args.digits, "exponent": args.exponent}
    if args.model == "gpt":
        what["name_codes"] = args.name_codes
    what |= {"steps": args.steps, "bits_per_fact": tasks[args.names[0]].bits_per_fact}
    if args.select:
        what |= {"selection": "random" if args.random else "lowest loss", "warmup": warmup}
    if args.json:
        print_json(what | {"rows": rows})
        return
    how = f", {what['selection']} selection after {warmup}" if args.select else ""
    codes = " (fixed name codes)" if args.model == "gpt" and args.name_codes else ""
    print(
        f"facts: {args.model}{codes}, {args.digits} digits "
        f"({what['bits_per_fact']:.2f} bits per fact), Zipf exponent {args.exponent:g}, "
        f"{args.steps} steps{how}"
    )
    print(" names" + ("   keep" if args.select else "") + "  seed  parameters  known  bits/param")
    for r in rows:
        keep = f"  {r['keep']:>5}" if args.select else ""
        print(
            f"{r['names']:>6}{keep}  {r['seed']:>4}  {r['parameters']:>10}  "
            f"{r['facts_known']:>5}  {r['bits_per_param']:>10.3f}"
        )

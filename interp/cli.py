"""The `interp` command line: a thin layer over the library (every line of science lives there).

    interp train modular --out runs/sweep --width 500 --noise 0.35 0.6 --wd 0 5 --epochs 1000
    interp train rules --rule parity --d 12 --N 16 32 64 128 --model dit --out runs/parity_N
    interp resume runs/sweep
    interp sweep --out runs/grid --p 31 --width 64 --seed 0 1 2 3 --noise 0 0.2 [--ray [ADDRESS]]
    interp evaluate runs/sweep [--step 200] [--json]
    interp extract runs/sweep [--method neuron|key|logits] [--step 200] [--json] [--out DIR]
    interp spectrum runs/sweep --out figures/ [--step 200] [--force]
    interp report runs/sweep --out reports/sweep [--model 0] [--force]
    interp clocks runs/parity_N [--samples 512] [--json] [--out DIR]
    interp basins runs/parity_N [--step 4000 | --over-training] [--targets 16] [--out DIR]
    interp train mixture --n 100 200 400 800 --d 50 --p 2000 --t 0.1 --out runs/rf
    interp score-clocks runs/rf [--json] [--out DIR]
    interp distill runs/dit --out runs/cd [--step 305 3000 | --teacher empirical] [--json]
    interp edgebank edges.txt [--negatives random historical inductive] [--scorer learned] [--json]
    interp raf --learner ridge|kernel|rbf|svm|features|network --alpha 2 5 --eps 0.2 [--json]
    interp facts --model factnet --names 1000 2000 4000 [--select 1600] [--json]
    interp posterior [--forward cubic] [--points -1.5 -0.4 0.4 1.2 2.5] [--sigma 0.5 1] [--json]
    interp speciation [--d 64] [--norm 4] [--weights 0.9 0.1] [--times 0.5 1 2] [--json] [--out DIR]

Each study brings its own commands (`interp.studies.<study>.cli`); this module finds them and
imports a study only for the command that runs, so `interp --help` loads neither torch nor
transformer-lens. A bad argument, a bad file or a library error prints one line,
`interp: error: <message>`, to stderr and exits with status 2.

Examples:
    >>> from interp.cli import main
    >>> main(["evaluate", "checkpoints/doshi_p97_noise035_wd0", "--step", "100"])
    checkpoints/doshi_p97_noise035_wd0, step 100
    model   train  train-clean  train-noisy    test
        0   1.000        1.000        1.000   0.040
    0
    >>> main(["evaluate", "checkpoints/doshi_p97_noise035_wd0", "--json"])  # doctest: +ELLIPSIS
    {
      "run": "checkpoints/doshi_p97_noise035_wd0",
      "step": 1000,
      "train": [
        0.97895...
      ],
    ...
    0
    >>> main(["evaluate", str(tmp / "no_run")])     # one line on stderr, exit status 2
    2
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from interp.version import FORMAT, FORMAT_VERSION, __version__

__all__ = ["main", "Parser", "UsageError", "device_options", "no_repeats", "print_json"]

PROG = "interp"
# command -> (module that adds its arguments and runs it, one-line help)
COMMANDS = {
    "train": ("interp.cli", "train a new run (modular arithmetic or a rule task)"),
    "resume": ("interp.cli", "continue an interrupted run"),
    "upgrade": ("interp.cli", "rewrite an older run's config.json in the current run format"),
    "sweep": (
        "interp.studies.label_noise.cli",
        "a modular grid as shards of batched ensembles, in process or on Ray",
    ),
    "evaluate": ("interp.studies.label_noise.cli", "accuracies of a run, per model"),
    "extract": ("interp.studies.label_noise.cli", "extract the rule by frequency"),
    "spectrum": ("interp.studies.label_noise.cli", "Fourier spectra as HTML figures"),
    "report": ("interp.studies.label_noise.cli", "one HTML page with every figure of one model"),
    "clocks": (
        "interp.studies.clocks.cli",
        "tau_rule, tau_mem and the innovation window of a rule-task run",
    ),
    "basins": (
        "interp.studies.clocks.cli",
        "score-basin radii of training vs unseen valid strings (diffusion runs)",
    ),
    "score-clocks": (
        "interp.studies.rf_clocks.cli",
        "tau_gen and tau_mem of a random-features score-model run, against n",
    ),
    "distill": (
        "interp.studies.distillation.cli",
        "consistency-distill a DiT run (or its empirical denoiser); teacher vs student copies",
    ),
    "edgebank": (
        "interp.studies.edgebank.cli",
        "EdgeBank, the memory baseline of dynamic link prediction, on a temporal edge stream",
    ),
    "raf": (
        "interp.studies.raf.cli",
        "E_gen and E_mem of a learner on the Rules-and-Facts task",
    ),
    "facts": ("interp.studies.facts.cli", "facts stored per parameter, FactNet or fact GPT"),
    "posterior": (
        "interp.studies.posterior.cli",
        "posterior weights of training points under a memorized prior (1-D or 2-D problem)",
    ),
    "speciation": (
        "interp.studies.imbalance.cli",
        "U-turns of two imbalanced classes with the exact score: each class's t_S, closed form",
    ),
}


# train TASK -> (the study module that trains it, one-line help)
TRAIN_TASKS = {
    "modular": (
        "interp.studies.label_noise.cli",
        "two-layer networks on modular arithmetic with label noise",
    ),
    "rules": (
        "interp.studies.clocks.cli",
        "a diffusion transformer or a GPT on strings of a binary rule (two clocks)",
    ),
    "mixture": (
        "interp.studies.rf_clocks.cli",
        "random-features score models on points of a Gaussian (generalization vs memorization)",
    ),
}


class UsageError(Exception):
    """A bad command line, raised by the parser instead of printing usage and exiting."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line (no usage dump); `--help` still works."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def no_repeats(args: argparse.Namespace, names: Sequence[str]) -> None:
    """Refuse a sweep list that names a value twice (it would train the same model twice)."""
    for name in names:
        values = getattr(args, name)
        if len(set(values)) != len(values):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} {' '.join(map(str, values))} repeats a value")


def device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda:1")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def tracking_options(parser: argparse.ArgumentParser) -> None:
    """`--tensorboard DIR` and `--wandb DIR`: send the training metrics to a tracker."""
    group = parser.add_argument_group("experiment tracking (the tracking extra)")
    group.add_argument("--tensorboard", type=Path, metavar="DIR", help="TensorBoard logdir")
    group.add_argument("--wandb", type=Path, metavar="DIR", help="offline W&B runs under DIR")


def loggers(args: argparse.Namespace) -> list[Any]:
    """The loggers `tracking_options` asked for, each checked to be installed before training."""
    import importlib.util

    from interp.core.tracking import TensorBoard, WandB

    chosen = []
    for flag, make in (("tensorboard", TensorBoard), ("wandb", WandB)):  # flag = package name
        folder = getattr(args, flag, None)
        if folder is None:
            continue
        if importlib.util.find_spec(flag) is None:
            raise ValueError(f"--{flag} needs {flag}: pip install -e .[tracking]")
        chosen.append(make(folder))
    return chosen


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """`train TASK ...` (each task's options come from its study), `resume RUN`, `upgrade RUN`."""
    if command == "resume":
        parser.add_argument("run", help="the run folder")
        device_options(parser)
        return
    if command == "upgrade":
        parser.add_argument("run", help="the run folder (its checkpoints are kept as they are)")
        return
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for name, (module, help_) in TRAIN_TASKS.items():
        sub = tasks.add_parser(name, help=help_)
        importlib.import_module(module).add_train_arguments(sub)


def run(args: argparse.Namespace, command: str) -> None:
    if args.command == "train":
        importlib.import_module(TRAIN_TASKS[args.task][0]).train(args, command)
        return
    if args.command == "upgrade":
        from interp.core.runs import upgrade_run

        before, after = upgrade_run(args.run)
        done = "config.json rewritten, checkpoints kept" if before != after else "nothing to do"
        print(f"{args.run}: run format {before} -> {after} ({done})")
        return
    from interp.core.training import resume

    result = resume(args.run, device=args.device, progress=not args.no_progress)
    print(f"{args.run}: trained to step {int(result.metrics['step'][-1])}")
    print("last logged metrics, per model")
    names = [k for k in result.metrics if k != "step"]
    print("model  " + "  ".join(f"{n:>15}" for n in names))
    for m in range(result.metrics[names[0]].shape[1]):
        values = "  ".join(f"{float(result.metrics[n][-1, m]):>15.4f}" for n in names)
        print(f"{m:>5}  {values}")


def print_json(record: dict) -> None:
    """Print strict JSON: nan (a model with no noisy examples) becomes null."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and math.isnan(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    print(json.dumps(clean(record), indent=2, allow_nan=False))


def _parser(command: str | None) -> Parser:
    """The parser; only `command`'s module is imported to add that command's options."""
    parser = Parser(
        prog=PROG,
        description="Train networks on noisy or finite data, evaluate them and pull apart the "
        "rule they learned from what they memorized. `interp COMMAND --help` lists a command's "
        "options.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"interp {__version__} (run format {FORMAT} version {FORMAT_VERSION})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_, description=help_)
        if name == command:
            importlib.import_module(module).add_arguments(name, sub)
    return parser


def _is_out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, MemoryError) or "out of memory" in text or "allocate" in text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `interp` command line; returns the exit status (0 ok, 2 error, 130 interrupt)."""
    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        args = _parser(command if command in COMMANDS else None).parse_args(argv)
        module = importlib.import_module(COMMANDS[args.command][0])
        module.run(args, shlex.join([PROG, *argv]))
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except BrokenPipeError:  # the reader left (`interp evaluate RUN --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (UsageError, ValueError, OSError) as e:
        message = " ".join(str(e).split())  # one line, whatever the message
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:
        if not _is_out_of_memory(e):
            raise  # a genuine bug: show its traceback
        message = " ".join(str(e).split())[:300]
        print(
            f"{PROG}: error: out of memory ({message}); try a smaller task or ensemble",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

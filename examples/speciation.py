"""Speciation under class imbalance: when does the backward process commit to a class?

    python examples/speciation.py

Two classes at +-m in d = 64 (|m| = 4, unit variances), weights 0.9 / 0.1 and 0.98 / 0.02. For
each class, 256 test points noised to time t and run back 4 times each through the backward OU
process with the exact mixture score (200 log-spaced Euler-Maruyama steps): the probability of
coming back to the class, the time t_S where it crosses 1/2, and the closed form for the
minority. Then the same U-turns through the score of a small DiT trained on 2000 or on 20
points of the 0.9 / 0.1 mixture in d = 8 (3000 steps each). About two minutes on a CPU.
"""

from __future__ import annotations

import torch

import interp
from interp.studies.imbalance import (
    closed_form_speciation_time,
    ou_score,
    speciation_time,
    u_turns,
)
from interp.tasks.mixtures import mixture_task

D, NORM = 64, 4.0
TIMES = [0.4, 0.6, 0.8, 1.0, 1.1, 1.2, 1.3, 1.4, 1.6, 2.0, 2.5, 3.0]


def main() -> None:
    m = torch.zeros(D)
    m[0] = NORM
    print(
        "| weights (majority / minority) | class | "
        + " | ".join(f"t={t}" for t in TIMES)
        + " | t_S | closed form |"
    )
    print("|" + "---|" * (len(TIMES) + 4))
    for minor in (0.1, 0.02):
        task = mixture_task(
            d=D, n=4, means=[m.tolist(), (-m).tolist()], weights=[1 - minor, minor], n_test=8000
        )
        returns = u_turns(task, TIMES, starts=256, repeats=4, steps=200)
        t_s = speciation_time(TIMES, returns)
        closed = closed_form_speciation_time(NORM, 1 - minor, minor)
        for c, name in enumerate(("majority", "minority")):
            cells = " | ".join(f"{float(r):.2f}" for r in returns[c])
            form = f"{closed:.3f}" if c == 1 else "-"
            print(
                f"| {1 - minor:g} / {minor:g} | {name} | {cells} | {float(t_s[c]):.3f} | {form} |"
            )
    trained_scores()


def trained_scores() -> None:
    """U-turns with the exact score and with the scores of DiTs trained on many or few points."""
    d, times = 8, [0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 2.0, 3.0]
    m = torch.zeros(d)
    m[0] = NORM
    means = [m.tolist(), (-m).tolist()]
    print("\n## d 8, weights 0.9 / 0.1: the exact score against trained DiTs\n")
    print("| score | class | " + " | ".join(f"t={t}" for t in times) + " | t_S |")
    print("|" + "---|" * (len(times) + 3))
    scores = {"exact": None}
    for n in (2000, 20):
        task = mixture_task(d=d, n=n, means=means, weights=[0.9, 0.1])
        dit = interp.DiT(interp.DiTConfig(d=d, d_model=32, n_heads=2, seed=0, sigma_data=1.6))
        cfg = interp.TrainConfig(steps=3000, lr=3e-3, loss="edm", batch_size=256, log_every=3000)
        model = interp.train(dit, task, cfg, device="cpu", progress=False).model
        scores[f"DiT, n = {n}"] = ou_score(lambda x, s, model=model: model(x, s)[0])
    task = mixture_task(d=d, n=4, means=means, weights=[0.9, 0.1], n_test=4000)
    for name, score in scores.items():
        returns = u_turns(task, times, starts=128, repeats=2, steps=100, score=score)
        t_s = speciation_time(times, returns)
        for c, label in enumerate(("majority", "minority")):
            cells = " | ".join(f"{float(r):.2f}" for r in returns[c])
            print(f"| {name} | {label} | {cells} | {float(t_s[c]):.3f} |")


if __name__ == "__main__":
    main()

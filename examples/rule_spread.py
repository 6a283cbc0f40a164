"""Where the rule sits in a network that memorized 80% wrong labels: spread over every frequency
of every neuron, phase-aligned (the groundwork of a task-agnostic extraction, issue 15 part 2).

Reads the shipped run `checkpoints/add_p97_noise080` (p 97, width 500, square activation) and
prints, in about ten seconds on one CPU core:

1. how single-frequency each neuron is: the share of its (U, V, W) power at its dominant
   frequency, beside the share a row of pure noise would show;
2. test accuracy after projecting every neuron onto one frequency: its dominant one (the
   library's "neuron" extraction), its second strongest, or one drawn at random;
3. the cross term sum_n U_n(a) V_n(b) W_n(c) of the network in the Fourier basis: its diagonal
   (k, k, k), the only entries a rule a + b = c can fill, against the rest.

Usage: python examples/rule_spread.py
"""

from __future__ import annotations

from pathlib import Path

import torch

import interp
from interp.fourier import project_onto_frequencies
from interp.models.mlp import MLP

RUN = Path(__file__).resolve().parent.parent / "checkpoints" / "add_p97_noise080"


def projected(model: MLP, freqs: torch.Tensor) -> MLP:
    """Every neuron's U and V rows and W column projected onto its frequency `freqs [1, N]`."""
    w = model.weights()
    w["U"] = project_onto_frequencies(w["U"], freqs)
    w["V"] = project_onto_frequencies(w["V"], freqs)
    w["W"] = project_onto_frequencies(w["W"].transpose(1, 2), freqs).transpose(1, 2)
    return MLP(model.cfg, model.device, w)


def main() -> None:
    torch.set_num_threads(1)
    run = interp.load_run(RUN)
    model, task = run.model(), run.task
    spectrum = interp.extract_frequencies(model)
    share = spectrum.power.max(-1).values / spectrum.power.sum(-1)
    n_freq = spectrum.power.shape[-1]
    # The same share for neurons of pure noise: three Gaussian rows each, power summed.
    noise = torch.randn(3, 20000, task.config.p, generator=torch.Generator().manual_seed(0))
    null = torch.fft.rfft(noise, dim=-1).abs().square()[..., 1 : n_freq + 1].sum(0)
    null_share = null.max(-1).values / null.sum(-1)
    print(
        f"1. dominant-frequency share of a neuron's power: median {share.median():.3f} "
        f"(pure noise: {null_share.median():.3f}; one wave: 1; {n_freq} frequencies)"
    )
    ranked = spectrum.power.argsort(-1, descending=True) + 1
    drawn = torch.randint(
        1, n_freq + 1, spectrum.dominant.shape, generator=torch.Generator().manual_seed(0)
    )
    print(f"2. test accuracy, raw {float(interp.evaluate(model, task).test[0]):.3f}; each neuron")
    for name, freqs in (
        ("dominant", ranked[..., 0]),
        ("second", ranked[..., 1]),
        ("random", drawn),
    ):
        acc = interp.evaluate(projected(model, freqs), task).test[0]
        print(f"   projected onto its {name:8s} frequency: {float(acc):.3f}")
    w = {k: v[0].double() for k, v in model.weights().items()}
    cross = torch.einsum("na,nb,cn->abc", w["U"], w["V"], w["W"])  # [p, p, p]
    hat = torch.fft.fft(torch.fft.fft(torch.fft.ifft(cross, dim=2), dim=1), dim=0)
    k = torch.arange(task.config.p)
    diag = hat[k, k, k]
    off = hat.abs().square().sum().sub(diag.abs().square().sum()).div(hat.numel() - len(k)).sqrt()
    print(
        f"3. Fourier cross term: diagonal |T(k,k,k)| median {diag.abs().median():.2f}, "
        f"off-diagonal rms {off:.2f} ({diag.abs().median() / off:.1f}x); diagonal phases "
        f"within {diag[1:].angle().abs().max():.2f} rad of 0"
    )


if __name__ == "__main__":
    main()

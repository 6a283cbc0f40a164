"""Where the rule sits in a network that memorized 80% wrong labels: spread over every frequency
of every neuron, phase-aligned (the groundwork of a task-agnostic extraction, issue 15 part 2).

Reads the shipped run `checkpoints/add_p97_noise080` (p 97, width 500, square activation) and
prints, in about fifteen seconds on one CPU core:

1. how single-frequency each neuron is: the share of its (U, V, W) power at its dominant
   frequency, beside the share a row of pure noise would show;
2. test accuracy after projecting every neuron onto one frequency: its dominant one (the
   library's "neuron" extraction), its second strongest, or one drawn at random;
3. the cross term sum_n U_n(a) V_n(b) W_n(c) of the network in the Fourier basis: its diagonal
   (k, k, k), the only entries a rule a + b = c can fill, against the rest;
4. where the rule's entries T(a, b, a + b) stand in the cross term (every one- and two-way mean
   removed, standardized): on clean training pairs, on test pairs, beside the entries of the
   wrong labels the network memorized;
5. whether a clean training pair is written by other neurons than a wrong one: the per-neuron
   contributions U_n(a) V_n(b) W_n(c) of every training pair's label, clean against wrong.

Usage: python examples/rule_spread.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from sklearn.metrics import roc_auc_score

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
    t = cross
    for axes in (0, 1, 2):
        t = t - t.mean(axes, keepdim=True)
    t = t / t.std()
    (a, b), rule = task.inputs.T, task.labels
    on_rule = t[a, b, rule]
    print("4. the cross term's interaction at the rule's entries (a, b, a + b), in sd:")
    for name, mask in (("clean training pairs", task.clean[0]), ("test pairs", task.test[0])):
        print(f"   {name:24s} mean {float(on_rule[mask].mean()):6.3f} ({int(mask.sum())} pairs)")
    noisy = task.noisy[0]
    wrong = t[a, b, task.train_labels[0]][noisy]
    print(
        f"   {'wrong labels, memorized':24s} mean {float(wrong.mean()):6.3f} ({len(wrong)} pairs)"
    )
    train = task.train[0]
    ta, tb, tl = a[train], b[train], task.train_labels[0][train]
    per_neuron = w["U"][:, ta].T * w["V"][:, tb].T * w["W"][tl]  # [pairs, neurons]
    clean = (tl == rule[train]).numpy()
    pcs = torch.linalg.svd(per_neuron - per_neuron.mean(0), full_matrices=False).U[:, :6]
    aucs = [roc_auc_score(clean, pc.numpy()) for pc in pcs.T]
    unit = per_neuron / per_neuron.norm(dim=1, keepdim=True)
    c = torch.as_tensor(clean)
    cos_cc, cos_cw = (unit[c] @ unit[c].T).mean(), (unit[c] @ unit[~c].T).mean()
    print(
        f"5. per-neuron contributions of a label: top 6 principal components tell clean from "
        f"wrong at AUC {min(aucs):.3f}-{max(aucs):.3f} (0.5: not at all); mean cosine "
        f"clean-clean {cos_cc:.4f}, clean-wrong {cos_cw:.4f}"
    )


if __name__ == "__main__":
    main()

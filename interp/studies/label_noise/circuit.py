"""The logit circuit of a modular-arithmetic network: neurons grouped by dominant frequency and
what each group writes to the outputs.

Examples:
    >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
    >>> circuit = logit_circuit(run.model())
    >>> int(circuit.neurons[0].sum()), tuple(circuit.readout.shape)
    (500, (1, 48, 97))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from interp.fourier import Spectrum, _real, extract_frequencies, over_group

__all__ = ["Circuit", "logit_circuit"]


@dataclass
class Circuit:
    """The logit circuit: neurons grouped by dominant frequency, and what each group writes to
    the outputs. A generalizing network's group at frequency f reads out a cosine of frequency f
    over the output residue c; a memorizing one's read-out has no such shape.

    Attributes:
        p: the modulus (number of outputs).
        neurons: `[models, F]` long, how many neurons have each frequency 1..F as dominant.
        readout: `[models, F, p]` the summed read-out weights `W[:, k] * out_scale` of the
            neurons k of each group (zero for a frequency no neuron has).
    """

    p: int
    neurons: Tensor
    readout: Tensor

    @property
    def frequencies(self) -> Tensor:
        """`[F]` the frequencies 1..F that index the second axis of `neurons` and `readout`."""
        return torch.arange(1, self.neurons.shape[-1] + 1, device=self.neurons.device)


def logit_circuit(
    model: Any,
    spectrum: Spectrum | None = None,
    keep: Tensor | None = None,
    op: str | None = None,
) -> Circuit:
    """Group every neuron by its dominant frequency and sum each group's read-out, per model.

    Args:
        model: an interp `MLP` (`W` `[models, p, neurons]`, `cfg.out_scale`).
        spectrum: its `extract_frequencies(model)`, to reuse (default: computed here).
        keep: `[models, neurons]` bool, the neurons to group (default: all), e.g. the
            generalization subnetwork of a partition, whose groups are not drowned by the
            memorizing neurons that share their dominant frequency.
        op: the task's op: "multiply" and "divide" read the neurons and the output axis over
            the discrete log (`interp.fourier.over_group`; then `Circuit.p` is p - 1).

    Returns:
        A `Circuit` with `neurons` `[models, F]` (summing to the width, or to each model's
        kept count) and `readout` `[models, F, p]`, on the model's device.

    Examples:
        >>> run = interp.load_run("checkpoints/doshi_p97_noise035_wd0")
        >>> part = interp.partition_neurons(run.model(), run.task, "ipr")
        >>> int(logit_circuit(run.model(), keep=part.general).neurons[0].sum())
        150
    """
    spectrum = extract_frequencies(model, op=op) if spectrum is None else spectrum
    # The read-out over the output residue c, or over its discrete log for multiplicative ops.
    W = over_group(model.W.detach().transpose(1, 2), op).transpose(1, 2) * model.cfg.out_scale
    if spectrum.p != W.shape[1]:
        raise ValueError(
            f"spectrum over {spectrum.p} residues but the read-out has {W.shape[1]}: "
            "compute both with the same op"
        )
    shape = (W.shape[0], W.shape[2])
    if tuple(spectrum.dominant.shape) != shape:
        got = tuple(spectrum.dominant.shape)
        raise ValueError(f"spectrum.dominant has shape {got}; the model needs {shape}")
    n_freq = spectrum.power.shape[-1]
    groups = torch.nn.functional.one_hot(spectrum.dominant.to(W.device) - 1, n_freq)
    if keep is not None:
        if tuple(keep.shape) != shape or keep.dtype != torch.bool:
            raise ValueError(
                f"keep must be a bool mask {shape}; got {keep.dtype} {tuple(keep.shape)}"
            )
        groups = groups * keep.to(W.device)[..., None]  # [models, neurons, F]
    readout = torch.einsum("mnf,mcn->mfc", _real(groups.to(W.dtype)), _real(W))
    return Circuit(spectrum.p, groups.sum(1), readout)

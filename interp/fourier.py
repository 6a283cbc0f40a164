"""Fourier analysis over Z_p of neuron weights: power, dominant frequency, phase, IPR, keys.

A weight row w indexed by residue x in Z_p is written w[x] = c + sum_f A_f cos(2 pi f x / p + phi_f)
for f = 1..(p-1)/2. A generalizing neuron of a modular-addition network is nearly one cosine;
a memorizing one is spread over all frequencies.

Examples:
    >>> x = torch.arange(97)
    >>> w = 3 * torch.cos(2 * torch.pi * 5 * x / 97 + 0.4)       # one neuron, frequency 5
    >>> s = extract_frequencies(w[None])                        # [neurons=1, p=97]
    >>> s.dominant, s.amplitude, s.phase, s.ipr
    (tensor([5]), tensor([[3.]]), tensor([[0.4000]]), tensor([1.]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Bool, Float, Integer, Shaped
from torch import Tensor, nn

from interp.tasks.modular import group_order

__all__ = [
    "Spectrum",
    "extract_frequencies",
    "fourier_basis",
    "project_onto_frequencies",
    "over_group",
    "group_labels",
]

# What a model's neuron rows are made of: U[k], V[k] (inputs a, b) and W[:, k] (outputs).
MODEL_MATRICES = ("U", "V", "W")


@dataclass
class Spectrum:
    """Per-neuron Fourier spectra of one or more weight matrices sharing their neurons.

    Leading dims `...` are those of the input: `[models]` for a model, anything for a tensor.
    F = (p - 1) // 2 frequencies f = 1..F (the constant term apart); M = number of matrices
    (3 for a model: U, V, W; 1 for a tensor).

    Attributes:
        p: the modulus.
        matrices: names of the M matrices.
        power: `[..., neurons, F]` |a_f|^2 summed over the matrices (rfft coefficients).
        constant: `[..., neurons]` |a_0|^2 summed over the matrices.
        dominant: `[..., neurons]` long, the frequency (1..F) of largest power.
        amplitude: `[..., M, neurons]` A at the dominant frequency (w ~ A cos(2pi f x/p + phase)).
        phase: `[..., M, neurons]` phase in (-pi, pi] at the dominant frequency.
        ipr: `[..., neurons]` inverse participation ratio sum_f (|a_f| / ||a||)^4 over the full
            |rfft| (constant included; Doshi et al. r = 2), averaged over the matrices; 1 for a
            pure cosine, ~1/(F+1) for white noise, 0 for a dead (all-zero) neuron.
        key: `[..., F]` bool, key frequencies: those that dominate many neurons. Each neuron
            votes for its dominant frequency with the power it puts there; a frequency is key
            when its share of the votes is at least `key_threshold` times the uniform 1/F. A
            wide network may use every frequency (Gromov's solution does), so all can be key.
    """

    p: int
    matrices: tuple[str, ...]
    power: Float[Tensor, "*batch neurons freqs"]
    constant: Float[Tensor, "*batch neurons"]
    dominant: Integer[Tensor, "*batch neurons"]
    amplitude: Float[Tensor, "*batch matrices neurons"]
    phase: Float[Tensor, "*batch matrices neurons"]
    ipr: Float[Tensor, "*batch neurons"]
    key: Bool[Tensor, "*batch freqs"]

    @property
    def frequencies(self) -> Tensor:
        """`[F]` the frequencies 1..F that index the last axis of `power` and `key`."""
        return torch.arange(1, self.power.shape[-1] + 1, device=self.power.device)

    def key_frequencies(self, index: int | tuple[int, ...] = ()) -> list[int]:
        """The key frequencies of one model (`index` into the leading dims), ascending."""
        key = self.key[index]
        if key.dim() != 1:
            raise ValueError(
                f"index {index!r} leaves key of shape {tuple(key.shape)}; pass one model's index"
            )
        return (torch.nonzero(key).flatten() + 1).tolist()

    def dominant_share(self) -> Tensor:
        """`[..., F]` each frequency's share of the power that neurons put on their own dominant
        frequency: how much of the network a frequency dominates (what `key` thresholds)."""
        return _dominant_share(self.power, self.dominant)


def _dominant_share(power: Tensor, dominant: Tensor) -> Tensor:
    """`[..., F]` from power `[..., neurons, F]` and dominant `[..., neurons]` (1-based)."""
    on_dominant = torch.gather(power, -1, (dominant - 1)[..., None]).squeeze(-1)  # [..., neurons]
    if power.device.type == "cpu":  # scatter_add_ sums in order on a CPU
        per_freq = torch.zeros(*power.shape[:-2], power.shape[-1], dtype=power.dtype)
        per_freq.scatter_add_(-1, dominant - 1, on_dominant)
    else:  # a one-hot product, not scatter_add_ (atomic, so not deterministic, on CUDA)
        groups = torch.nn.functional.one_hot(dominant - 1, power.shape[-1]).to(power.dtype)
        per_freq = torch.einsum("...n,...nf->...f", on_dominant, groups)
    total = per_freq.sum(-1, keepdim=True)
    return per_freq / total.clamp_min(torch.finfo(total.dtype).tiny)


def _real(x: Tensor) -> Tensor:
    """float32 or float64 as given; other dtypes (half, int) computed in float32."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _as_matrices(x: Any) -> tuple[Tensor, tuple[str, ...]]:
    """Stack the neuron rows to analyse as `[..., M, neurons, p]`."""
    if isinstance(x, Tensor):
        if x.dim() < 2:
            raise ValueError(f"weights of shape {tuple(x.shape)}: need [..., neurons, p]")
        return x.detach()[..., None, :, :], ("weights",)
    if all(hasattr(x, name) for name in MODEL_MATRICES):
        U, V, W = (getattr(x, name).detach() for name in MODEL_MATRICES)
        return torch.stack([U, V, W.transpose(-1, -2)], dim=-3), MODEL_MATRICES
    raise TypeError(
        f"extract_frequencies takes an interp MLP or a tensor [..., neurons, p]; got {type(x)}"
    )


def over_group(rows: Shaped[Tensor, "*batch p"], op: str | None) -> Shaped[Tensor, "*batch n"]:
    """Rows indexed by residue `[..., p]`, re-indexed as the task's group sees them: by the
    exponent of a primitive root, `[..., p - 1]`, for "multiply" and "divide" (a op b is then
    addition of discrete logs; residue 0 lies outside the group), unchanged for other ops.
    The one place every analysis reads multiplicative ops through.

    Examples:
        >>> over_group(torch.arange(7.0), "multiply")       # residues 3^0, 3^1, ... of Z_7
        tensor([1., 3., 2., 6., 4., 5.])
        >>> over_group(torch.arange(3.0), "add")
        tensor([0., 1., 2.])
    """
    order = group_order(rows.shape[-1], op) if op is not None else None
    return rows if order is None else rows[..., order.to(rows.device)]


def group_labels(
    labels: Integer[Tensor, "*batch"], p: int, op: str | None
) -> tuple[Integer[Tensor, " kept"], Bool[Tensor, "*batch"], int]:
    """Residues as the op's group sees them: `(values, kept, n)`, with `values` the discrete logs
    (exponents of a primitive root) of `labels` for "multiply" and "divide" and `kept` the rows
    whose residue lies in the group (not 0), over a cyclic group of order n = p - 1; the labels
    themselves, every row and n = p for other ops. The label-side twin of `over_group`.

    Examples:
        >>> group_labels(torch.tensor([1, 3, 0, 6]), 7, "multiply")    # 3 = 3^1, 6 = 3^3
        (tensor([0, 1, 3]), tensor([ True,  True, False,  True]), 6)
    """
    order = group_order(p, op) if op is not None else None
    if order is None:
        return labels, torch.ones_like(labels, dtype=torch.bool), p
    log = torch.full((p,), -1, dtype=torch.long, device=labels.device)
    log[order.to(labels.device)] = torch.arange(p - 1, device=labels.device)
    exponents = log[labels]
    kept = exponents >= 0
    return exponents[kept], kept, p - 1


# Elements of weights analysed at once: a chunk's FFT and powers take about 6x its size in
# bytes (float32), so 2^26 elements keep the peak near 1.5 GiB beyond the input.
CHUNK_ELEMENTS = 2**26


def extract_frequencies(
    weights: nn.Module | Float[Tensor, "*batch neurons p"],
    key_threshold: float = 0.5,
    op: str | None = None,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> Spectrum:
    """Fourier spectrum of every neuron, batched over all leading dims, on the input's device.

    Args:
        weights: an interp `MLP` (U, V and W are analysed together, leading dim `models`) or a
            tensor `[..., neurons, p]` whose last axis is indexed by input residue.
        key_threshold: a frequency is key when its share of the neurons' dominant power is at
            least this many times the uniform share 1/F (see `Spectrum.key`).
        op: the task's operation; "multiply" and "divide" are read over the discrete log
            (`over_group`: the spectrum is over Z_(p-1), `Spectrum.p` is p - 1), every other op
            (or None) over the residue.
        chunk_elements: analyse the first leading axis (models, checkpoints) in chunks of about
            this many weights, so that any number of models fits in memory; the result is the
            same as in one piece.

    Raises:
        ValueError: the weights hold NaN or inf (a spectrum of them would mean nothing).

    Returns:
        A `Spectrum`; see its fields for shapes.

    Examples:
        >>> model = interp.load_run("checkpoints/doshi_p97_noise035_wd0").model()
        >>> s = extract_frequencies(model)                      # an MLP: models=1, width=500
        >>> s.dominant.shape, s.ipr.shape, s.power.shape        # F = 48 frequencies
        (torch.Size([1, 500]), torch.Size([1, 500]), torch.Size([1, 500, 48]))
        >>> s.dominant[0, :8].tolist()
        [14, 11, 15, 20, 38, 12, 41, 43]
        >>> int((s.ipr > 0.5).sum()), len(s.key_frequencies(0))  # near-cosine neurons; keys
        (143, 48)
    """
    if (
        isinstance(chunk_elements, bool)
        or not isinstance(chunk_elements, int)
        or chunk_elements < 1
    ):
        raise ValueError(f"chunk_elements={chunk_elements!r} must be an integer >= 1")
    rows = _leading(weights)
    per_row = _row_elements(weights)
    step = max(1, chunk_elements // max(per_row, 1))
    if rows is None or rows <= step:
        return _spectrum(weights, key_threshold, op)
    parts = [
        _spectrum(_rows(weights, slice(i, i + step)), key_threshold, op)
        for i in range(0, rows, step)
    ]
    first = parts[0]
    return Spectrum(
        first.p,
        first.matrices,
        *(torch.cat([getattr(part, name) for part in parts]) for name in _CHUNKED),
    )


_CHUNKED = ("power", "constant", "dominant", "amplitude", "phase", "ipr", "key")


def _leading(x: Any) -> int | None:
    """The length of the first leading axis the analysis may chunk (None: there is none)."""
    if isinstance(x, Tensor):
        return x.shape[0] if x.dim() >= 3 else None
    return x.U.shape[0] if all(hasattr(x, n) for n in MODEL_MATRICES) else None


def _row_elements(x: Any) -> int:
    if isinstance(x, Tensor):
        return x[0].numel() if x.dim() >= 3 else x.numel()
    if all(hasattr(x, n) for n in MODEL_MATRICES):
        return sum(getattr(x, n)[0].numel() for n in MODEL_MATRICES)
    return 0


class _Rows:
    """A model's U, V, W restricted to some of its models (what `_as_matrices` reads)."""

    def __init__(self, model: Any, rows: slice) -> None:
        for name in MODEL_MATRICES:
            setattr(self, name, getattr(model, name)[rows])


def _rows(x: Any, rows: slice) -> Any:
    return x[rows] if isinstance(x, Tensor) else _Rows(x, rows)


def _spectrum(weights: Any, key_threshold: float, op: str | None) -> Spectrum:
    """`extract_frequencies` of weights analysed in one piece."""
    stacked, names = _as_matrices(weights)
    stacked = over_group(stacked, op)
    p = stacked.shape[-1]
    if p < 3:
        raise ValueError(f"p={p}: need at least 3 residues for a non-constant frequency")
    n_freq = (p - 1) // 2
    coeffs = torch.fft.rfft(_real(stacked), dim=-1)  # [..., M, neurons, p//2 + 1]
    mags2 = torch.addcmul(coeffs.real.square(), coeffs.imag, coeffs.imag)  # |c|^2, no sqrt
    norm2 = mags2.sum(-1, keepdim=True)
    # A NaN or inf weight spreads over its row's whole spectrum: checking the row sums (one
    # value per row, not per weight) finds it; the weights themselves say which it was.
    if stacked.device.type != "meta" and not bool(torch.isfinite(norm2).all()):
        if not bool(torch.isfinite(stacked).all()):
            raise ValueError("extract_frequencies: the weights hold NaN or inf")
        raise ValueError("extract_frequencies: the weights' power overflows their dtype")
    # For even p the Nyquist term has no phase partner; it counts in the IPR, not in `power`.
    power = mags2[..., 1 : n_freq + 1]
    power = power[..., 0, :, :] if power.shape[-3] == 1 else power.sum(-3)  # a view for M = 1
    constant = mags2[..., 0].sum(-2)
    dominant = power.argmax(-1) + 1

    at_dominant = torch.gather(
        coeffs, -1, dominant[..., None, :, None].expand(*coeffs.shape[:-1], 1)
    ).squeeze(-1)  # [..., M, neurons]
    amplitude = 2 * at_dominant.abs() / p
    phase = torch.angle(at_dominant)

    # IPR = sum (|c|^2 / N)^2 = sum |c|^4 / N^2, divided once per row rather than per coefficient
    norm2 = norm2.squeeze(-1)
    fourth = torch.linalg.vector_norm(mags2, 2, -1).square()  # sum |c|^4 in one pass
    ipr = fourth / norm2.square().clamp_min(torch.finfo(norm2.dtype).tiny)
    ipr = torch.where(norm2 > 0, ipr, torch.zeros_like(ipr)).mean(-2)

    share = _dominant_share(power, dominant)
    key = share >= key_threshold / n_freq
    return Spectrum(p, names, power, constant, dominant, amplitude, phase, ipr, key)


def fourier_basis(p: int, device: torch.device | str | None = None) -> Float[Tensor, "p p"]:
    """Orthonormal real Fourier basis of Z_p, `[p, p]`, one basis vector per row.

    Rows: the constant, then cos and sin of 2 pi f x / p for f = 1..(p-1)//2 (and, for even p, the
    Nyquist cosine last). `basis @ basis.T` is the identity.

    Examples:
        >>> B = fourier_basis(7)
        >>> torch.allclose(B @ B.T, torch.eye(7), atol=1e-6)
        True
    """
    x = torch.arange(p, device=device, dtype=torch.float64)
    rows = [torch.ones_like(x) / math.sqrt(p)]
    for f in range(1, (p - 1) // 2 + 1):
        angle = 2 * math.pi * f * x / p
        rows += [torch.cos(angle) * math.sqrt(2 / p), torch.sin(angle) * math.sqrt(2 / p)]
    if p % 2 == 0:
        rows.append(torch.cos(math.pi * x) / math.sqrt(p))
    return torch.stack(rows).float()


def project_onto_frequencies(
    weights: Float[Tensor, "*batch p"],
    frequencies: Integer[Tensor, "*batch"] | Bool[Tensor, "*#batch freqs"],
    keep_constant: bool = False,
) -> Float[Tensor, "*batch p"]:
    """Project rows indexed by residue onto the cos/sin components of chosen frequencies.

    Args:
        weights: `[..., p]` rows (e.g. `[models, neurons, p]`).
        frequencies: either `[...]` long, one frequency (1..F) per row, or a bool mask
            `[..., F]` broadcastable to the rows (e.g. `[models, 1, F]` for keys per model).
        keep_constant: keep the row mean too.

    Returns:
        `[..., p]` the projected rows, same dtype and device.

    Examples:
        >>> model = interp.load_run("checkpoints/doshi_p97_noise035_wd0").model()
        >>> U = model.weights()["U"]                                    # [models, neurons, p]
        >>> U_clean = project_onto_frequencies(U, extract_frequencies(model).dominant)
        >>> kept = U_clean.norm(dim=-1) / U.norm(dim=-1)                # [models, neurons]
        >>> [round(v, 2) for v in kept[0, 5:8].tolist()]                # neuron 7 is one wave
        [0.29, 0.31, 0.95]
    """
    p = weights.shape[-1]
    n_freq = (p - 1) // 2
    coeffs = torch.fft.rfft(_real(weights), dim=-1)
    if frequencies.dtype == torch.bool:
        if frequencies.shape[-1] != n_freq:
            raise ValueError(
                f"frequency mask has {frequencies.shape[-1]} entries; p={p} has {n_freq}"
            )
        keep = torch.zeros(
            *frequencies.shape[:-1], coeffs.shape[-1], dtype=torch.bool, device=weights.device
        )
        keep[..., 1 : n_freq + 1] = frequencies
    else:
        if frequencies.numel() and not (
            int(frequencies.min()) >= 1 and int(frequencies.max()) <= n_freq
        ):
            raise ValueError(f"frequencies must lie in 1..{n_freq} for p={p}")
        keep = torch.nn.functional.one_hot(frequencies.long(), coeffs.shape[-1]).bool()
    if keep_constant:
        keep = keep.clone()
        keep[..., 0] = True
    return torch.fft.irfft(coeffs * keep, n=p, dim=-1).to(weights.dtype)

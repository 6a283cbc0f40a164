import inspect
import math

import pytest
import torch

from interp.fourier import extract_frequencies, fourier_basis, project_onto_frequencies
from interp.models.mlp import MLP, MLPConfig
from interp.studies.label_noise.circuit import logit_circuit

DEVICES = ["cpu", "meta"] + (["cuda"] if torch.cuda.is_available() else [])


def cosines(p: int, freq, amp=1.0, phase=0.0) -> torch.Tensor:
    """amp * cos(2 pi freq x / p + phase) over x in Z_p, broadcast over the leading dims."""
    x = torch.arange(p, dtype=torch.float64)
    freq, amp, phase = (
        torch.as_tensor(v, dtype=torch.float64)[..., None] for v in (freq, amp, phase)
    )
    return (amp * torch.cos(2 * math.pi * freq * x / p + phase)).float()


def random_waves(p: int, shape: tuple[int, ...], seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    freq = torch.randint(1, (p - 1) // 2 + 1, shape, generator=gen)
    amp = 0.5 + 1.5 * torch.rand(shape, generator=gen)
    phase = (2 * torch.rand(shape, generator=gen) - 1) * math.pi
    return freq, amp, phase


def circular_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.remainder(a - b + math.pi, 2 * math.pi) - math.pi


def basis_rows(p: int, freqs: list[int]) -> torch.Tensor:
    """The cos and sin rows of `fourier_basis(p)` for the given frequencies, float64."""
    B = fourier_basis(p).double()
    return B[[r for f in freqs for r in (2 * f - 1, 2 * f)]]


@pytest.mark.parametrize("p", [97, 10, 5])
def test_recovers_frequency_amplitude_and_phase(p):
    models, neurons = 3, 8
    freq, amp, phase = random_waves(p, (models, neurons))
    offset = torch.linspace(-1, 1, neurons)[:, None]  # a constant term must not disturb anything
    s = extract_frequencies(cosines(p, freq, amp, phase) + offset)
    F = (p - 1) // 2
    assert s.p == p and s.matrices == ("weights",)
    assert s.power.shape == (models, neurons, F)
    assert s.amplitude.shape == s.phase.shape == (models, 1, neurons)
    assert torch.equal(s.dominant, freq)
    torch.testing.assert_close(s.amplitude[:, 0], amp, rtol=1e-4, atol=1e-4)
    assert circular_difference(s.phase[:, 0], phase).abs().max() < 1e-4
    # all the power sits at the dominant frequency: |a_f| = A p / 2, |a_0| = c p
    expected_power = torch.zeros(models, neurons, F)
    expected_power.scatter_(-1, (freq - 1)[..., None], ((amp * p / 2) ** 2)[..., None])
    torch.testing.assert_close(s.power, expected_power, rtol=1e-4, atol=1e-2)
    torch.testing.assert_close(s.constant, (offset[:, 0] * p).expand(models, -1) ** 2)


@pytest.mark.parametrize("p", [5, 10, 97])
def test_ipr_exact_values(p):
    F = (p - 1) // 2
    delta = torch.zeros(p)
    delta[0] = 1.0
    rows = torch.stack(
        [
            cosines(p, F, 2.0, 0.3),  # one cosine
            cosines(p, 1, 1.5, 0.0) + cosines(p, F, 1.5, 1.0),  # two of equal amplitude
            torch.zeros(p),  # a dead neuron
            delta,  # flat |rfft| over the p // 2 + 1 bins
        ]
    )
    s = extract_frequencies(rows)
    expected = torch.tensor([1.0, 0.5, 0.0, 1 / (p // 2 + 1)])
    torch.testing.assert_close(s.ipr, expected)
    assert not s.ipr.isnan().any()


def test_constant_rows_have_no_power():
    rows = torch.stack([torch.full((11,), 2.0), torch.full((11,), -0.5), torch.zeros(11)])
    s = extract_frequencies(rows)
    torch.testing.assert_close(s.constant, torch.tensor([22.0, 5.5, 0.0]) ** 2)
    torch.testing.assert_close(s.power, torch.zeros(3, 5), atol=1e-8, rtol=0)
    torch.testing.assert_close(s.ipr, torch.tensor([1.0, 1.0, 0.0]))


@pytest.mark.parametrize("p", [5, 11, 97])
def test_parseval_odd_p(p):
    w = torch.randn(4, 6, p, generator=torch.Generator().manual_seed(p))
    s = extract_frequencies(w)
    torch.testing.assert_close((s.constant + 2 * s.power.sum(-1)) / p, (w**2).sum(-1))


@pytest.mark.parametrize("p", [4, 10, 96])
def test_parseval_even_p_leaves_out_nyquist(p):
    """For even p the Nyquist term (-1)^x belongs to neither `constant` nor `power`."""
    w = torch.randn(4, 6, p, generator=torch.Generator().manual_seed(p))
    s = extract_frequencies(w)
    nyquist = (w * cosines(p, p // 2)).sum(-1) ** 2
    torch.testing.assert_close((s.constant + 2 * s.power.sum(-1) + nyquist) / p, (w**2).sum(-1))
    pure = extract_frequencies(cosines(p, p // 2)[None])
    torch.testing.assert_close(pure.power, torch.zeros(1, (p - 1) // 2), atol=1e-6, rtol=0)
    torch.testing.assert_close(pure.ipr, torch.ones(1))


@pytest.mark.parametrize("p", [3, 4, 5, 10, 97])
def test_fourier_basis_is_orthonormal(p):
    B = fourier_basis(p).double()
    assert B.shape == (p, p)
    torch.testing.assert_close(B @ B.T, torch.eye(p, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(B.T @ B, torch.eye(p, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(B[0], torch.full((p,), p**-0.5, dtype=torch.float64))
    x = torch.arange(p, dtype=torch.float64)
    angle = 2 * math.pi * x / p  # rows 1 and 2: cos and sin of frequency 1
    torch.testing.assert_close(B[1], torch.cos(angle) * math.sqrt(2 / p), atol=1e-6, rtol=0)
    torch.testing.assert_close(B[2], torch.sin(angle) * math.sqrt(2 / p), atol=1e-6, rtol=0)


@pytest.mark.parametrize("p", [11, 10])
def test_projection_onto_one_frequency_per_row(p):
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(2, 5, p, generator=gen)
    freqs = torch.randint(1, (p - 1) // 2 + 1, (2, 5), generator=gen)
    proj = project_onto_frequencies(w, freqs)
    assert proj.shape == w.shape and proj.dtype == w.dtype
    for m in range(2):
        for k in range(5):
            rows = basis_rows(p, [int(freqs[m, k])])
            expected = (rows.T @ (rows @ w[m, k].double())).float()
            torch.testing.assert_close(proj[m, k], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(project_onto_frequencies(proj, freqs), proj, atol=1e-5, rtol=0)
    residual_dot = ((w - proj) * proj).sum(-1)
    torch.testing.assert_close(residual_dot, torch.zeros(2, 5), atol=1e-5, rtol=0)
    # exactly the chosen component survives, with all of its power
    before, after = extract_frequencies(w), extract_frequencies(proj)
    chosen = torch.nn.functional.one_hot(freqs - 1, (p - 1) // 2).bool()
    torch.testing.assert_close(after.power[chosen], before.power[chosen], rtol=1e-4, atol=1e-4)
    assert after.power[~chosen].abs().max() < 1e-8
    assert after.constant.abs().max() < 1e-8
    with_constant = project_onto_frequencies(w, freqs, keep_constant=True)
    torch.testing.assert_close(with_constant - proj, w.mean(-1, keepdim=True).expand_as(w))


@pytest.mark.parametrize("p", [13, 12])
def test_projection_onto_a_frequency_mask(p):
    F = (p - 1) // 2
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(3, 4, p, generator=gen, dtype=torch.float64)
    mask = torch.rand(3, 1, F, generator=gen) < 0.5  # keys per model, shared by its neurons
    mask[0] = False
    mask[1, 0, 0] = True
    proj = project_onto_frequencies(w, mask)
    assert proj.dtype == torch.float64
    for m in range(3):
        rows = basis_rows(p, (torch.nonzero(mask[m, 0]).flatten() + 1).tolist())
        torch.testing.assert_close(proj[m], w[m] @ rows.T @ rows, atol=1e-5, rtol=0)
    torch.testing.assert_close(project_onto_frequencies(proj, mask), proj, atol=1e-5, rtol=0)
    residual_dot = ((w - proj) * proj).sum(-1)
    torch.testing.assert_close(residual_dot, torch.zeros_like(residual_dot), atol=1e-5, rtol=0)
    everything = project_onto_frequencies(w, torch.ones(F, dtype=torch.bool), keep_constant=True)
    alternating = cosines(p, p // 2).double()  # (-1)^x for even p
    nyquist = (w @ alternating)[..., None] * alternating / p if p % 2 == 0 else 0
    torch.testing.assert_close(everything, w - nyquist, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "frequencies, match",
    [
        (torch.tensor([0, 1]), "1..5"),
        (torch.tensor([1, 6]), "1..5"),
        (torch.tensor([-1, 2]), "1..5"),
        (torch.ones(6, dtype=torch.bool), "6 entries"),
        (torch.ones(4, dtype=torch.bool), "4 entries"),
    ],
)
def test_projection_rejects_bad_frequencies(frequencies, match):
    with pytest.raises(ValueError, match=match):
        project_onto_frequencies(torch.randn(2, 11), frequencies)


def test_extract_frequencies_on_a_model_matches_the_stacked_tensors():
    model = MLP(MLPConfig(p=13, width=6, models=2, seed=(0, 1)))
    s = extract_frequencies(model)
    assert s.matrices == ("U", "V", "W")
    assert s.dominant.shape == s.ipr.shape == s.constant.shape == (2, 6)
    assert s.power.shape == (2, 6, 6) and s.key.shape == (2, 6)
    assert s.amplitude.shape == s.phase.shape == (2, 3, 6)
    stacked = torch.stack([model.U, model.V, model.W.transpose(1, 2)], dim=1).detach()
    t = extract_frequencies(stacked)  # [models, 3, neurons, p]: each matrix on its own
    torch.testing.assert_close(s.power, t.power.sum(1))
    torch.testing.assert_close(s.constant, t.constant.sum(1))
    torch.testing.assert_close(s.ipr, t.ipr.mean(1))
    assert torch.equal(s.dominant, s.power.argmax(-1) + 1)
    # amplitude and phase describe each row's component at the neuron's dominant frequency
    f = s.dominant[:, None, :].expand(-1, 3, -1)
    component = project_onto_frequencies(stacked, f)
    torch.testing.assert_close(component, cosines(13, f, s.amplitude, s.phase), atol=1e-5, rtol=0)


def keyed_neurons(p: int, keys: tuple[int, ...], neurons: int, seed: int) -> torch.Tensor:
    """Rows `[neurons, p]`: each a cosine at one of `keys` (random phase/amplitude) plus noise."""
    gen = torch.Generator().manual_seed(seed)
    freq = torch.tensor(keys)[torch.arange(neurons) % len(keys)]
    amp = 0.5 + torch.rand(neurons, generator=gen)
    phase = (2 * torch.rand(neurons, generator=gen) - 1) * math.pi
    return cosines(p, freq, amp, phase) + 0.05 * torch.randn(neurons, p, generator=gen)


def test_key_frequencies_of_a_tensor():
    s = extract_frequencies(keyed_neurons(97, (3, 7), neurons=40, seed=0))
    assert s.key.shape == (48,)
    assert s.key_frequencies() == [3, 7]
    assert torch.equal(s.frequencies, torch.arange(1, 49))
    share = s.dominant_share()
    torch.testing.assert_close(share.sum(), torch.tensor(1.0))
    assert share[[2, 6]].sum() == pytest.approx(1.0)  # every neuron is dominated by 3 or 7


def test_dominant_share_weighs_each_neuron_by_its_dominant_power():
    p = 31
    freq, amp = torch.tensor([2, 2, 9, 4]), torch.tensor([1.0, 2.0, 3.0, 0.01])
    s = extract_frequencies(cosines(p, freq, amp))
    votes = torch.zeros(15)
    votes.index_add_(0, freq - 1, (amp * p / 2) ** 2)
    torch.testing.assert_close(s.dominant_share(), votes / votes.sum())
    # key: a share of at least key_threshold / F; the faint neuron at 4 does not make 4 key
    assert s.key_frequencies() == [2, 9]
    assert extract_frequencies(cosines(p, freq, amp), key_threshold=0.0).key.all()
    assert extract_frequencies(cosines(p, freq, amp), key_threshold=15 * 0.5).key_frequencies() == [
        9
    ]


def test_key_frequencies_of_each_model():
    p, width = 97, 30
    weights = {}
    for name, seed in (("U", 0), ("V", 1), ("W", 2)):
        rows = torch.stack(
            [keyed_neurons(p, (3, 7), width, seed), keyed_neurons(p, (5, 40), width, seed)]
        )
        weights[name] = rows.transpose(1, 2) if name == "W" else rows
    model = MLP(MLPConfig(p=p, width=width, models=2), weights=weights)
    s = extract_frequencies(model)
    assert s.key_frequencies(0) == [3, 7]
    assert s.key_frequencies(1) == [5, 40]
    assert torch.isin(s.dominant[0], torch.tensor([3, 7])).all()
    assert torch.isin(s.dominant[1], torch.tensor([5, 40])).all()


def test_batched_over_leading_dims():
    w = torch.randn(2, 3, 7, 11, generator=torch.Generator().manual_seed(0))
    s = extract_frequencies(w)
    assert s.dominant.shape == s.ipr.shape == s.constant.shape == (2, 3, 7)
    assert s.power.shape == (2, 3, 7, 5) and s.key.shape == (2, 3, 5)
    assert s.amplitude.shape == s.phase.shape == (2, 3, 1, 7)
    for i in range(2):
        for j in range(3):
            one = extract_frequencies(w[i, j])
            for name in ("power", "constant", "dominant", "amplitude", "phase", "ipr", "key"):
                torch.testing.assert_close(getattr(s, name)[i, j], getattr(one, name))


@pytest.mark.parametrize("device", DEVICES)
def test_results_stay_on_the_input_device(device):
    w = torch.randn(2, 3, 7, 11).to(device)
    s = extract_frequencies(w)
    for name in ("power", "constant", "dominant", "amplitude", "phase", "ipr", "key"):
        assert getattr(s, name).device == w.device, name
    assert s.frequencies.device == w.device
    assert fourier_basis(11, device=device).device == w.device
    mask = torch.ones(5, dtype=torch.bool, device=device)
    assert project_onto_frequencies(w, mask).device == w.device


@pytest.mark.parametrize("bad", [[1.0, 2.0, 3.0], "weights", None, 3.0])
def test_non_tensor_non_model_raises_type_error(bad):
    # The suite checks signatures (conftest.py): the annotation refuses it first ...
    with pytest.raises(TypeError, match="extract_frequencies"):
        extract_frequencies(bad)
    # ... and without the check, as a user runs it, the function's own message does.
    with pytest.raises(TypeError, match="extract_frequencies takes"):
        inspect.unwrap(extract_frequencies)(bad)


def test_a_wrong_shape_fails_at_the_call_with_both_shapes():
    weights = torch.randn(3, 5, 11)
    with pytest.raises(TypeError) as error:
        project_onto_frequencies(weights, torch.ones(4, dtype=torch.long))  # [3, 5] expected
    message = str(error.value)
    # The expected shape, the one received, and what the axes were bound to by the other input.
    assert "Integer[Tensor, '*batch']" in message and "i64[4]" in message
    assert "batch=torch.Size([3, 5])" in message and "f32[3,5,11]" in message
    with pytest.raises(TypeError, match="Float"):
        extract_frequencies(torch.ones(2, 11, dtype=torch.long))  # integer weights
    assert project_onto_frequencies(weights, torch.ones(3, 5, dtype=torch.long)).shape == (3, 5, 11)


@pytest.mark.parametrize("shape", [(11,), (4, 2), (4, 1)])
def test_too_small_tensors_raise_value_error(shape):
    with pytest.raises(ValueError):
        inspect.unwrap(extract_frequencies)(torch.randn(shape))  # unchecked, as a user runs it
    with pytest.raises((TypeError, ValueError)):  # a 1-D tensor fails the signature first
        extract_frequencies(torch.randn(shape))


@pytest.mark.parametrize("init", ["doshi", "mean_field"])
def test_logit_circuit_of_pure_cosine_neurons(init):
    """Neurons that are pure cosines group by their frequency; each group's read-out is the sum
    of its neurons' cosines, scaled like the forward pass."""
    p, width = 11, 6
    freqs = torch.tensor([[2, 5, 2, 1, 2, 5], [3, 3, 3, 3, 4, 1]])  # [models, neurons]
    phases = torch.linspace(-3, 3, 2 * width).reshape(2, width)
    rows = cosines(p, freqs, 1.0, phases)  # [models, neurons, p]
    cfg = MLPConfig(p=p, width=width, models=2, init=init)
    model = MLP(cfg, weights={"U": rows, "V": rows, "W": rows.transpose(1, 2)})
    circuit = logit_circuit(model)
    F = (p - 1) // 2
    assert circuit.p == p and circuit.readout.shape == (2, F, p)
    assert torch.equal(circuit.frequencies, torch.arange(1, F + 1))
    assert circuit.neurons.tolist() == [[1, 3, 0, 0, 2], [1, 0, 4, 1, 0]]
    assert (circuit.neurons.sum(-1) == width).all()
    scale = 1 / width if init == "mean_field" else 1.0
    for m in range(2):
        for f in range(1, F + 1):
            expected = rows[m, freqs[m] == f].sum(0) * scale  # [p], zero for an empty group
            torch.testing.assert_close(circuit.readout[m, f - 1], expected)
            # the read-out of a group is a wave at its own frequency, nothing else
            spectrum = extract_frequencies(circuit.readout[m, f - 1][None])
            assert circuit.neurons[m, f - 1] == 0 or spectrum.dominant.item() == f
    same = logit_circuit(model, extract_frequencies(model))
    torch.testing.assert_close(same.readout, circuit.readout)
    keep = torch.tensor([[True, True, False, False, True, True], [False] * 5 + [True]])
    kept = logit_circuit(model, keep=keep)
    assert kept.neurons.tolist() == [[0, 2, 0, 0, 2], [1, 0, 0, 0, 0]]
    for m in range(2):
        for f in range(1, F + 1):
            expected = rows[m, (freqs[m] == f) & keep[m]].sum(0) * scale
            torch.testing.assert_close(kept.readout[m, f - 1], expected)
    with pytest.raises(ValueError, match=r"keep must be a bool mask \(2, 6\)"):
        logit_circuit(model, keep=keep.float())
    with pytest.raises(ValueError, match=r"spectrum.dominant has shape \(1, 6\)"):
        logit_circuit(model, extract_frequencies(rows[:1]))


def test_a_chunked_spectrum_equals_the_one_piece_spectrum():
    x = torch.randn(7, 2, 12, 13, generator=torch.Generator().manual_seed(0))
    whole, chunked = extract_frequencies(x), extract_frequencies(x, chunk_elements=2 * 12 * 13)
    for name in ("power", "constant", "dominant", "amplitude", "phase", "ipr", "key"):
        assert torch.equal(getattr(whole, name), getattr(chunked, name)), name
    model = MLP(MLPConfig(p=11, width=16, models=5, seed=0))
    a, b = extract_frequencies(model), extract_frequencies(model, chunk_elements=1)
    assert all(torch.equal(getattr(a, n), getattr(b, n)) for n in ("power", "phase", "key"))
    with pytest.raises(ValueError, match="chunk_elements=0"):
        extract_frequencies(x, chunk_elements=0)

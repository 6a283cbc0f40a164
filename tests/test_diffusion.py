import itertools
import math

import pytest
import torch

from interp.diffusion import (
    SIGMA_DATA,
    EmpiricalDenoiser,
    edm_loss_weight,
    edm_precondition,
    heun_sample,
    sample,
    sample_training_sigmas,
    sigma_schedule,
    stochastic_sample,
)

SIGMAS = torch.tensor([1e-3, 0.01, 0.1, 0.5, 1.0, 10.0, 80.0], dtype=torch.float64)


def signals(bits) -> torch.Tensor:
    return torch.tensor(bits, dtype=torch.float64) - 0.5


def brute_force(x: torch.Tensor, data: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """sum_i x_i softmax_i(-||x - x_i||^2 / 2 s^2), written out; x [B, d], data [N, d], s [B]."""
    dist = ((x[:, None, :] - data[None]) ** 2).sum(-1)
    weights = torch.softmax(-dist / (2 * sigma[:, None] ** 2), dim=-1)
    return weights @ data


def test_preconditioning_identities():
    c_skip, c_out, c_in, c_noise = edm_precondition(SIGMAS)
    s2, sd2 = SIGMAS**2, SIGMA_DATA**2
    # The skip and network parts share the target's variance: c_skip + c_out^2 / s_d^2 = 1.
    torch.testing.assert_close(c_skip + c_out**2 / sd2, torch.ones_like(SIGMAS))
    torch.testing.assert_close(c_in**2 * (s2 + sd2), torch.ones_like(SIGMAS))
    torch.testing.assert_close(c_out, SIGMAS * SIGMA_DATA * c_in)
    torch.testing.assert_close(c_noise, SIGMAS.log() / 4)
    # lambda(s) c_out^2 = 1: the weighted loss is the raw network's unit-variance loss.
    torch.testing.assert_close(edm_loss_weight(SIGMAS) * c_out**2, torch.ones_like(SIGMAS))
    assert edm_precondition(0.5)[0].item() == pytest.approx(0.5)


def test_preconditioned_denoiser_is_identity_as_sigma_vanishes():
    x = torch.randn(5, 3, dtype=torch.float64)
    raw = torch.randn(5, 3, dtype=torch.float64)  # whatever the network outputs
    c_skip, c_out, _, _ = edm_precondition(torch.tensor(1e-9, dtype=torch.float64))
    torch.testing.assert_close(c_skip * x + c_out * raw, x)


def test_training_sigmas_are_log_normal_and_reproducible():
    sigmas = sample_training_sigmas((20000,), torch.Generator().manual_seed(0))
    assert sigmas.log().mean().item() == pytest.approx(-1.2, abs=0.03)
    assert sigmas.log().std().item() == pytest.approx(1.2, abs=0.03)
    again = sample_training_sigmas((20000,), torch.Generator().manual_seed(0))
    assert torch.equal(sigmas, again)


def test_karras_schedule_endpoints_and_monotonicity():
    s = sigma_schedule(18, sigma_min=0.002, sigma_max=80.0, rho=7.0)
    assert s.shape == (19,)
    assert s[0].item() == pytest.approx(80.0)
    assert s[-2].item() == pytest.approx(0.002)
    assert s[-1].item() == 0
    assert bool((s[1:] < s[:-1]).all())
    # rho = 1 is a straight line from sigma_max to sigma_min.
    torch.testing.assert_close(sigma_schedule(3, 1.0, 3.0, rho=1.0), torch.tensor([3.0, 2, 1, 0]))
    torch.testing.assert_close(sigma_schedule(1, sigma_max=5.0), torch.tensor([5.0, 0.0]))


def test_per_sample_schedules():
    top = torch.tensor([[80.0, 1.0, 0.1], [0.001, 0.0, 2.0]], dtype=torch.float64)
    s = sigma_schedule(6, sigma_min=0.002, sigma_max=top)
    assert s.shape == (7, 2, 3) and s.dtype == torch.float64
    for i, j in itertools.product(range(2), range(3)):
        if top[i, j] >= 0.002:
            expected = sigma_schedule(6, 0.002, top[i, j])  # a 0-d tensor: one schedule
            torch.testing.assert_close(s[:, i, j], expected)
    # Below sigma_min the schedule stays flat at sigma_max, then drops to 0; 0 stays 0.
    torch.testing.assert_close(s[:, 1, 0], torch.tensor([0.001] * 6 + [0.0], dtype=torch.float64))
    assert bool((s[:, 1, 1] == 0).all())
    with pytest.raises(ValueError, match="sigma_max"):
        sigma_schedule(4, sigma_max=torch.tensor([-1.0]))
    with pytest.raises(ValueError, match="steps=0"):
        sigma_schedule(0)


def test_heun_returns_the_single_training_point_from_any_start():
    point = signals([[1, 0, 1, 1]])
    D = EmpiricalDenoiser(point)
    x = 80 * torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = heun_sample(D, x, sigma_schedule(18).double())
    torch.testing.assert_close(out, point.expand(50, 4))


def test_heun_with_per_sample_schedules_and_call_count():
    point = signals([[0, 1]])
    calls = []

    def D(x, sigma):
        calls.append(torch.as_tensor(sigma).shape)
        return point.expand_as(x)

    top = torch.tensor([5.0, 0.5, 0.0], dtype=torch.float64)
    x = point + top[:, None] * torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    out = heun_sample(D, x, sigma_schedule(6, sigma_max=top))
    torch.testing.assert_close(out, point.expand(3, 2))
    # Heun everywhere but the final step to 0: 2 * steps - 1 calls, each with per-sample sigmas.
    assert len(calls) == 2 * 6 - 1 and set(calls) == {torch.Size([3])}


def test_empirical_denoiser_matches_the_formula_in_chunks():
    g = torch.Generator().manual_seed(1)
    data = torch.randn(10, 5, generator=g, dtype=torch.float64)
    x = 2 * torch.randn(7, 5, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.05, 0.2, 0.5, 1.0, 3.0, 10.0, 0.3], dtype=torch.float64)
    expected = brute_force(x, data, sigma)
    for max_elements in (1, 7 * 3, 2**20):  # one row, three rows, all rows per chunk
        D = EmpiricalDenoiser(data, max_elements=max_elements)
        torch.testing.assert_close(D(x, sigma), expected)


def test_empirical_denoiser_limits():
    data = signals([[0, 0, 0], [1, 1, 0], [1, 0, 1], [0, 1, 1]])
    x = torch.tensor([[0.3, 0.4, -0.2], [-0.1, -0.3, -0.4]], dtype=torch.float64)
    D = EmpiricalDenoiser(data)
    nearest = data[torch.cdist(x, data).argmin(-1)]
    for small in (1e-3, 0.0):  # sigma -> 0 and sigma = 0 exactly: the nearest point, no nan
        torch.testing.assert_close(D(x, small), nearest)
    torch.testing.assert_close(D(x, 1e6), data.mean(0).expand(2, 3))


def test_empirical_denoiser_per_model_data_and_mask():
    g = torch.Generator().manual_seed(2)
    data = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 0, 0]]).bool()
    data[~mask] = 100.0  # padding: must not count
    x = torch.randn(4, 2, 5, 3, generator=g, dtype=torch.float64)  # [..., models, batch, d]
    sigma = torch.rand(2, 5, generator=g, dtype=torch.float64) + 0.1  # [models, batch]
    out = EmpiricalDenoiser(data, mask, max_elements=9)(x, sigma)
    assert out.shape == x.shape
    for m in range(2):
        for i in range(4):
            torch.testing.assert_close(out[i, m], brute_force(x[i, m], data[m][mask[m]], sigma[m]))
    with pytest.raises(ValueError, match="per-model"):
        EmpiricalDenoiser(data, mask)(x[..., 0, :, :], 1.0)
    with pytest.raises(ValueError, match="mask keeps no row"):
        EmpiricalDenoiser(data, torch.zeros(2, 6, dtype=torch.bool))


def test_sample_with_the_empirical_denoiser_copies_training_strings():
    bits = torch.tensor([[0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]])
    D = EmpiricalDenoiser(bits.float() - 0.5)
    for stochastic in (False, True):
        x0 = sample(D, (64, 6), 18, torch.Generator().manual_seed(0), stochastic=stochastic)
        copies = ((x0 > 0)[:, None] == bits.bool()).all(-1)
        assert bool(copies.any(-1).all())
        torch.testing.assert_close(x0.abs(), torch.full_like(x0, 0.5))


def test_stochastic_sampler_is_reproducible_from_a_generator():
    data = signals([[0, 1, 1], [1, 0, 0], [1, 1, 1]]).float()
    D = EmpiricalDenoiser(data)
    x = 80 * torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    s = sigma_schedule(10)

    def run(seed):
        return stochastic_sample(D, x, s, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(3), run(3))
    # The churn noise matters before the end: stopped at sigma = 1, different seeds differ.
    early = s[s >= 1.0]
    a = stochastic_sample(D, x, early, generator=torch.Generator().manual_seed(3))
    b = stochastic_sample(D, x, early, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(a, b)
    # No churn is the deterministic sampler.
    torch.testing.assert_close(stochastic_sample(D, x, s, churn=0.0), heun_sample(D, x, s))


def test_sampler_input_validation():
    D = EmpiricalDenoiser(signals([[0, 1]]))
    x = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="steps"):
        heun_sample(D, x, torch.tensor([1.0]))
    with pytest.raises(ValueError, match="broadcast"):
        heun_sample(D, x, sigma_schedule(4, sigma_max=torch.ones(5)))
    with pytest.raises(ValueError, match="sigma"):
        D(x, torch.ones(4))
    assert math.isfinite(D(x, 0.0).sum().item())


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class PlacedDenoiser:
    """A denoiser that lives on `device`, like a model: it records where its inputs are."""

    def __init__(self, device: str) -> None:
        self.device = torch.empty(0, device=device).device  # with its index: cuda:0
        self.seen: set[tuple[torch.device, torch.device]] = set()

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        self.seen.add((x.device, torch.as_tensor(sigma).device))
        return torch.zeros_like(x)


@pytest.mark.parametrize("device", DEVICES)
def test_sample_draws_on_the_denoisers_device_by_default(device):
    D = PlacedDenoiser(device)
    for stochastic in (False, True):
        x0 = sample(D, (2, 3, 4), steps=3, stochastic=stochastic)  # no generator, no device
        assert x0.shape == (2, 3, 4) and x0.device == D.device
    assert D.seen == {(D.device, D.device)}
    # A generator must live there too; the same seed gives the same samples.
    gen = torch.Generator(D.device)
    a = sample(D, (3, 4), steps=3, generator=gen.manual_seed(0))
    assert torch.equal(a, sample(D, (3, 4), steps=3, generator=gen.manual_seed(0)))
    # A plain function has no device: the generator's, else the CPU.
    assert sample(lambda x, s: x * 0, (3, 4), steps=2).device.type == "cpu"
    assert sample(lambda x, s: x * 0, (3, 4), steps=2, generator=gen).device == D.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device")
def test_sample_on_the_denoisers_device_refuses_a_generator_elsewhere():
    with pytest.raises(RuntimeError):
        sample(PlacedDenoiser("cuda"), (3, 4), steps=2, generator=torch.Generator())

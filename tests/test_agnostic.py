"""The task-agnostic extraction: a group law found in the weights alone, then per-neuron
projection over it. Exact on a scrambled clock network; on trained memorizing networks of add,
subtract and multiply it lifts test accuracy from chance to the rule without being told the op."""

import math

import pytest
import torch

from interp.core.metrics import evaluate
from interp.core.training import TrainConfig, train
from interp.models.mlp import MLP, MLPConfig
from interp.studies.label_noise import extract, find_group_law, project_over_law
from interp.tasks.modular import modular_task


def scrambled_clock(p: int, perm: torch.Tensor) -> MLP:
    """Logits exactly sum_f cos(2 pi f (x + y - z) / p) over every frequency f (a sharp rule
    x + y = z), with token t standing for residue perm[t]. Four neurons per frequency:
    cos(x + y - z) = (cos x cos y - sin x sin y) cos z + (sin x cos y + cos x sin y) sin z, each
    product uv = ((u + v)^2 - (u - v)^2) / 4 from two neurons."""
    r = perm.double()
    rows = []
    for f in range(1, (p - 1) // 2 + 1):
        cos, sin = torch.cos(2 * math.pi * f * r / p), torch.sin(2 * math.pi * f * r / p)
        for u, v, out in ((cos, cos, cos), (sin, sin, -cos), (sin, cos, sin), (cos, sin, sin)):
            for sign in (1, -1):
                rows.append((u, sign * v, sign * out / 4))
    U = torch.stack([u for u, _, _ in rows])[None].float()
    V = torch.stack([v for _, v, _ in rows])[None].float()
    W = torch.stack([w for _, _, w in rows], dim=1)[None].float()
    return MLP(MLPConfig(p=p, width=len(rows)), weights={"U": U, "V": V, "W": W})


def test_the_law_of_a_scrambled_clock_is_found_and_projection_changes_nothing():
    p = 17
    perm = torch.randperm(p, generator=torch.Generator().manual_seed(3))  # token -> residue
    model = scrambled_clock(p, perm)
    law = find_group_law(model)
    assert law.n.tolist() == [p] and law.output.tolist() == [2]
    labels = torch.empty(p, dtype=torch.long)
    labels[law.order[0]] = torch.arange(p)  # token -> found label
    assert int(perm[law.order[0, 0]]) == 0  # the identity: the token standing for residue 0
    # the found labels are the residues up to an automorphism: label = k * residue mod p
    k = int(labels[int((perm == 1).nonzero())])
    torch.testing.assert_close(labels, (k * perm) % p, rtol=0, atol=0)
    inputs = modular_task(p=p).inputs
    with torch.no_grad():
        torch.testing.assert_close(
            project_over_law(model, law)(inputs), model(inputs), rtol=0, atol=1e-4
        )


@pytest.fixture(scope="module")
def trained():
    """p 23, half the training labels wrong, width 256: networks that fit every wrong label."""
    torch.manual_seed(0)
    nets = {}
    for op in ("add", "subtract", "multiply"):
        task = modular_task(p=23, op=op, noise=0.5, seed=[0, 1])
        model = MLP(MLPConfig(p=23, width=256, models=2, seed=(0, 1)))
        train(model, task, TrainConfig(steps=600, log_every=600), device="cpu", progress=False)
        nets[op] = (model, task)
    return nets


@pytest.mark.parametrize(
    ("op", "n", "output", "identity"),
    [("add", 23, 2, 0), ("subtract", 23, 0, 0), ("multiply", 22, 2, 1)],
)
def test_the_law_of_a_memorizing_network_is_its_task(trained, op, n, output, identity):
    model, task = trained[op]
    law = find_group_law(model)
    assert law.n.tolist() == [n, n] and law.output.tolist() == [output, output]
    assert law.order[:, 0].tolist() == [identity, identity]
    # the found labels make the task's table an addition mod n on every pair of group tokens
    a, b = task.inputs.T
    c = task.labels
    for m in range(2):
        members = law.order[m, :n]
        labels = torch.full((23,), -1)
        labels[members] = torch.arange(n)
        x, y, z = (a, b, c) if output == 2 else (b, c, a)
        inside = (labels[x] >= 0) & (labels[y] >= 0) & (labels[z] >= 0)
        assert inside.sum() >= (n - 1) ** 2
        assert ((labels[x] + labels[y]) % n == labels[z])[inside].all()
    torch.testing.assert_close(law.right_on(task), torch.ones(2, dtype=torch.float64))
    # projected over that law, the network answers the rule it could not answer itself
    raw = evaluate(model, task)
    assert (raw.train_noisy >= 0.9).all() and (raw.test <= 0.2).all(), raw
    clean = evaluate(project_over_law(model, law), task)
    assert (clean.test >= 0.95).all(), clean.test
    fourier = evaluate(extract(model, op=op), task)  # the method that is told the group
    torch.testing.assert_close(clean.test, fourier.test, rtol=0, atol=0.02)


def test_extract_agnostic_is_the_projection_over_the_found_law(trained):
    model, _ = trained["add"]
    want = project_over_law(model, find_group_law(model)).weights()
    for name, value in extract(model, "agnostic").weights().items():
        torch.testing.assert_close(value, want[name], rtol=0, atol=0, msg=name)


def test_a_law_confirmed_by_two_starts_is_the_one_every_start_finds(trained):
    model, task = trained["subtract"]
    quick, full = find_group_law(model), find_group_law(model, confirm=None)
    torch.testing.assert_close(quick.score, full.score, rtol=0, atol=1e-4)
    for m in range(2):  # the same table x o y (labels may differ by an automorphism)
        tables = []
        for law in (quick, full):
            order = law.order[m, : int(law.n[m])]  # order[j]: the token labelled j
            label = torch.full((23,), -1)
            label[order] = torch.arange(len(order))
            x = order.sort().values
            tables.append(order[(label[x][:, None] + label[x][None, :]) % len(order)])
        torch.testing.assert_close(tables[0], tables[1], rtol=0, atol=0)


def test_a_wider_search_runs_where_no_law_is_confirmed(trained):
    model, task = trained["add"]
    narrow = {"beam": 1, "starts": 1, "consensus": 0, "rounds": 1}  # one start: never confirmed
    assert (find_group_law(model, **narrow).right_on(task) < 0.5).all()
    widened = find_group_law(model, **narrow, widen=((200, 4),))
    torch.testing.assert_close(widened.right_on(task), torch.ones(2, dtype=torch.float64))
    # where the first search confirms its law, no wider one runs (a narrow one would do worse)
    default, unused = find_group_law(model), find_group_law(model, widen=((1, 1),))
    assert torch.equal(default.order, unused.order) and torch.equal(default.score, unused.score)


def test_bad_arguments_are_refused_in_one_line(trained):
    model, _ = trained["add"]
    for kwargs, message in (
        ({"beam": 0}, "beam=0"),
        ({"keep": 1.5}, "keep=1.5"),
        ({"starts": 0}, "starts=0"),
        ({"confirm": 0}, "confirm=0"),
        ({"consensus": 1}, "consensus=1"),
        ({"consensus": -2}, "consensus=-2"),
        ({"outputs": (3,)}, "outputs=(3,)"),
        ({"widen": ((0, 4),)}, "widen=((0, 4),)"),
        ({"widen": (5000,)}, "widen=(5000,)"),
    ):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            find_group_law(model, **kwargs)
    law = find_group_law(scrambled_clock(17, torch.arange(17)))
    with pytest.raises(ValueError, match=r"shape \(1, 17\); this model needs \[models=2, p=23\]"):
        project_over_law(model, law)
    with pytest.raises(ValueError, match="task of 2 models at p 23; this law has 1 models at p 17"):
        law.right_on(trained["add"][1])
    relu = MLP(MLPConfig(p=23, width=8, act="relu"))
    with pytest.raises(ValueError, match="x\\^2"):
        find_group_law(relu)
    weights = model.weights()
    weights["W"][0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        find_group_law(MLP(model.cfg, weights=weights))


def test_partial_laws_that_agree_where_they_are_right_give_the_law():
    from interp.studies.label_noise import agnostic

    n, gen = 23, torch.Generator().manual_seed(0)
    truth = torch.randperm(n, generator=gen)  # label -> token; the identity at label 0
    sig = torch.empty_like(truth)
    sig[truth] = torch.arange(n)
    x = torch.arange(n)
    planted = torch.zeros(n, n, n, dtype=torch.float64)
    planted[x[:, None], x[None, :], truth[(sig[:, None] + sig[None, :]) % n]] = 1.0
    t = agnostic._interaction(planted + 2.0 * torch.randn(n, n, n, generator=gen).double())
    partial = []
    for _ in range(3):  # each the truth with another quarter of its tokens shuffled
        labels, moved = truth.clone(), torch.randperm(n - 1, generator=gen)[:6] + 1
        labels[moved] = labels[moved[torch.randperm(6, generator=gen)]]
        partial.append(labels)
    right = [float((agnostic._table(p) == agnostic._table(truth)).double().mean()) for p in partial]
    assert max(right) < 0.6  # no partial law is near the truth alone
    e = int(truth[0])
    for g in range(1, 5):  # the search from scratch ends elsewhere at this noise
        start = agnostic._grow(t, agnostic._start(n, e, (e + g) % n), 50)
        alone, _ = agnostic._regrow(t, start, 50, 0.2, 2)
        assert not torch.equal(agnostic._table(alone), agnostic._table(truth))
    labels, score = agnostic._consensus(t, partial, e, beam=50, keep=0.2, rounds=2)
    assert torch.equal(agnostic._table(labels), agnostic._table(truth))
    assert float(score) >= float(agnostic._law_score(t, truth)) - 1e-6

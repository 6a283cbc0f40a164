"""A task-agnostic extraction: find the group law in the weights, then project every neuron.

The Fourier methods of `extract` must be told the task's group (for multiply, to read the
weights over the discrete log). This one gets only the trained weights: no op, no Fourier basis,
no labels, no outputs of the network on labelled data. It finds a relabeling of the tokens under
which the network's a-b-c interaction is the table of a cyclic group, and then projects every
neuron onto its dominant frequency over that relabeling (`extract(model, "agnostic")`).

What it reads: for the x^2 network, logits(a, b)[c] = sum_n W_n(c) (U_n(a) + V_n(b))^2, whose
only term that couples a, b and c is the cross term T(a, b, c) = sum_n U_n(a) V_n(b) W_n(c).
A rule x o y = z of a cyclic group of order n, under labels s: tokens -> Z_n, fills the entries
T(x, y, s^-1(s(x) + s(y))): the law's score J(s), the sum of T over its table, is what a rule
adds (= the sum of the Fourier diagonal T(k, k, k) over the labels s; `rule_spread.py`). The
search for s, per model and for each axis that could be the law's output (c for add and
multiply, a for subtract and divide: a = b + c), on T with its one- and two-way means removed:

1. the identity e: the token x with the largest sum_y T(x, y, y) + T(y, x, y); tokens with
   T(x, y, x) large for every y are absorbing (0 for multiply) and set outside the group
   (where that is unclear, the full search runs both ways and J decides).
2. a beam search grows the labels from e (label 0) and any other token (label 1; every choice
   is the same up to the group's automorphisms): the next label is the one that the most
   known entries constrain, each candidate token scored by the entries of T it would fill with
   two labelled tokens (a pooled vote), `beam` partial labelings kept.
3. the tokens that the finished labeling places most confidently (`keep` of them) stay, the
   beam regrows the rest from them, and greedy swaps of two tokens' labels climb J; repeated
   while J grows (`rounds`); up to `starts` searches, each from another token at label 1,
   until `confirm` of them find the same law; the best J wins.
4. where none is confirmed, the `consensus` best distinct laws the starts ended in vote: the
   entries two or more of them share (partial laws are right in different places and wrong in
   different ways) form a table searched like T, and the laws found there climb on T.
5. (`widen`, off by default) where still no law is confirmed, wider searches run in turn.

The search succeeds where the rule's entries outweigh the memorized ones in pooled votes: at p
23-31 up to half wrong labels, at p 97 up to 60% (7-15 s a model on two CPU cores), not
at 80% (docs/noise_frontier.md). A network that memorized its labels holds one spike per
training pair and nothing on test pairs, so the search reads the law off the training table: it
finds it where at least a fifth of all p^2 pairs are clean training entries (measured at p
43-97; an eighth at p 23-31), however many wrong ones come with them; the issue's 80% at p 97
with half the pairs in training has a tenth (with 95% in training, 0.19, a wider search finds it:
`beam=5000, starts=96`, 3-5 minutes a model, 5 networks of 6 across add, subtract, multiply).
`GroupLaw.score` mostly separates a found law from a partial one (measured: 27-40 against 13-18
at p 31 and noise 0.5-0.8, 118-160 against 89 at p 97, 97-102 against 57-75 at p 97, noise 0.8
and f 0.9-0.95), but it grows with the share of clean entries (at p 43 a partial law at train
fraction 0.9 reached 61, found laws 35-113), so compare it at similar shares. The choices above
(beam width, kept share, rounds, starts, confirm) are parameters.

Examples:
    >>> from interp.studies.label_noise import find_group_law
    >>> task = interp.modular_task(p=23, op="multiply", noise=0.5, seed=0)
    >>> model = interp.MLP(interp.MLPConfig(p=23, width=256, seed=0))
    >>> _ = interp.train(model, task, interp.TrainConfig(steps=600), progress=False)
    >>> law = find_group_law(model)
    >>> law.n.tolist(), law.output.tolist(), law.order[0, 0].item()   # Z_22, c = a o b, e = 1
    ([22], [2], 1)
    >>> interp.evaluate(model, task).test < 0.2, interp.evaluate(
    ...     interp.extract(model, "agnostic"), task).test > 0.95
    (tensor([True]), tensor([True]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Integer
from torch import Tensor

from interp.fourier import project_onto_frequencies
from interp.models.mlp import MLP
from interp.tasks.modular import ModularTask

__all__ = ["GroupLaw", "find_group_law", "project_over_law"]

# Sum of the z-scores of a token's two diagonal mean logits above which it absorbs (measured at
# p 23-31: 9-17 for residue 0 of multiply; at most 4.6 for any token of add).
ABSORBING_Z = 8.0
# Axes of T(a, b, c) as (x, y, z) of a law x o y = z, for each axis that is the law's output.
_ROLES = {2: (0, 1, 2), 0: (1, 2, 0), 1: (0, 2, 1)}


@dataclass(frozen=True)
class GroupLaw:
    """The cyclic group law found in each model's weights.

    Attributes:
        order: `[models, p]` long: `order[m, j]` is the token with label j (j < n), the
            identity first; the tokens outside the group (absorbing ones) follow.
        n: `[models]` long: the group's order (p, or p - 1 when one token absorbs).
        output: `[models]` long: the axis that is the law's output, 2 (c = a o b: add,
            multiply) or 0 (a = b o c: subtract, divide) or 1 (b = a o c).
        score: `[models]` the law's score J (the sum of the standardized interaction over the
            law's table) in standard deviations of that sum, sqrt(n^2) (a random table: ~0).
    """

    order: Integer[Tensor, "models p"]
    n: Integer[Tensor, " models"]
    output: Integer[Tensor, " models"]
    score: Float[Tensor, " models"]

    def right_on(self, task: ModularTask) -> Float[Tensor, " models"]:
        """Share of the task's table, over the pairs whose three tokens lie in the found group,
        on which the found law gives the task's answer (1: the law is the task's, up to an
        automorphism). A measurement against the truth; the search never reads the task."""
        if task.models != len(self.n) or task.p != self.order.shape[1]:
            raise ValueError(
                f"task of {task.models} models at p {task.p}; this law has "
                f"{len(self.n)} models at p {self.order.shape[1]}"
            )
        (a, b), c = task.inputs.T.to(self.order.device), task.labels.to(self.order.device)
        shares = []
        for order, n, output in zip(self.order, self.n.tolist(), self.output.tolist(), strict=True):
            labels = torch.full_like(order, -1)
            labels[order[:n]] = torch.arange(n, device=order.device)
            x, y, z = {2: (a, b, c), 0: (b, c, a), 1: (a, c, b)}[output]
            inside = (labels[x] >= 0) & (labels[y] >= 0) & (labels[z] >= 0)
            right = (labels[x] + labels[y]) % n == labels[z]
            shares.append(right[inside].double().mean())
        return torch.stack(shares)


def find_group_law(
    model: MLP,
    *,
    beam: int = 1000,
    keep: float = 0.2,
    rounds: int = 6,
    starts: int = 16,
    confirm: int | None = 2,
    consensus: int = 3,
    widen: tuple[tuple[int, int], ...] = (),
    outputs: tuple[int, ...] = (2, 0, 1),
    progress: bool = False,
) -> GroupLaw:
    """Find, from the weights alone, the relabeling under which each model's interaction is the
    table of a cyclic group (the module docstring has the method). Runs on the model's device.

    Args:
        model: a trained x^2 `MLP` (any number of models).
        beam: partial labelings kept by the beam search.
        keep: share of the tokens kept (the most confidently placed) when the beam regrows.
        rounds: regrow-and-climb rounds at most (each stops early when J stops growing).
        starts: beam searches at most, each from another token at label 1; the best J wins.
        confirm: stop once this many starts have found the best law (the same table: a law
            found again from another start is the one the weights hold); None runs every
            start (at p 97, 16 starts take 10-20 s a model on two CPU cores).
        consensus: where no law is confirmed, the tables of the best `consensus` distinct laws
            the starts ended in vote: the entries that two or more share form a table that is
            searched like T, and each law found there climbs on T (repeated while J grows);
            0 turns it off.
        widen: wider searches, `(beam, starts)` each, run in turn on the law's axis while no
            search so far has its law confirmed (`confirm` starts agreeing); the best J of all
            wins. Cheap where the default search finds the law, wide where it does not: at
            p 97, 80% noise and train fraction 0.95, `((5000, 96),)` found all six networks
            of add, subtract and multiply (docs/noise_frontier.md). Off by default: on a
            network whose law cannot be found it costs minutes a model.
        outputs: the axes tried as the law's output (2: c, 0: a, 1: b): a quick search on
            each (one start, one round), then the full search on the one with the best J.
        progress: a bar over the searches.

    Raises:
        ValueError: a bad parameter, a model that is not x^2, or weights with NaN or inf.
    """
    if not isinstance(model, MLP) or model.cfg.act != "square":
        raise ValueError("find_group_law reads the cross term of an x^2 MLP (act='square')")
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ValueError(f"beam={beam!r} must be an integer >= 1")
    for name, value in (("rounds", rounds), ("starts", starts), ("confirm", confirm)):
        if value is None and name == "confirm":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be an integer >= 1")
    bad = isinstance(consensus, bool) or not isinstance(consensus, int) or consensus < 0
    if bad or consensus == 1:
        raise ValueError(f"consensus={consensus!r} must be 0 (off) or an integer >= 2")
    if not 0 < keep < 1:
        raise ValueError(f"keep={keep!r} must be in (0, 1)")
    for pair in widen:
        ok = isinstance(pair, tuple) and len(pair) == 2
        if not ok or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair):
            raise ValueError(f"widen={widen!r} must hold (beam, starts) pairs of integers >= 1")
    if not outputs or any(o not in _ROLES for o in outputs):
        raise ValueError(f"outputs={outputs!r} must be a non-empty tuple of axes 0, 1, 2")
    w = model.weights()
    if not all(torch.isfinite(w[k]).all() for k in ("U", "V", "W")):
        raise ValueError("the weights hold NaN or inf: no group law can be read from them")
    from tqdm.auto import tqdm

    bar = tqdm(total=model.cfg.models * (len(outputs) + 1), desc="group law", disable=not progress)
    found = []
    for m in range(model.cfg.models):
        u, v, out = w["U"][m].double(), w["V"][m].double(), w["W"][m].double()
        cross = torch.einsum("na,nb,cn->abc", u, v, out)
        logits = (  # the network's logits(a, b)[c] over every (a, b, c)
            2 * cross
            + torch.einsum("cn,na->ac", out, u.square())[:, None, :]
            + torch.einsum("cn,nb->bc", out, v.square())[None]
        )
        # A quick search per candidate output axis picks the axis (a wrong one has no law: its
        # J stays near the level of noise), then the full search runs on that axis alone.
        quick = {}
        for axis in outputs:
            role = _ROLES[axis]
            for outside in _outside_candidates(logits.permute(*role)):
                quick[axis, outside] = _search(
                    cross.permute(*role), outside, beam, keep, 1, 1, None, 0
                )
            bar.update()
        axis = max(quick, key=lambda key: quick[key][2])[0]
        role, laws = _ROLES[axis], []
        search = beam, keep, rounds, starts, confirm, consensus
        for key in (key for key in quick if key[0] == axis):  # each choice of outside tokens
            first = quick[key][0]  # (the quick J is no guide here: both may be partial laws)
            laws.append(_search(cross.permute(*role), key[1], *search, first))
        for wide, more in widen:
            if any(law[3] for law in laws):
                break
            wider = wide, keep, rounds, more, confirm, consensus
            laws += [_search(cross.permute(*role), k[1], *wider) for k in quick if k[0] == axis]
        law = max(laws, key=lambda law: law[2])
        bar.update()
        found.append((*law[:3], axis))
    bar.close()
    device = model.device
    return GroupLaw(
        order=torch.stack([f[0] for f in found]),
        n=torch.tensor([f[1] for f in found], device=device),
        output=torch.tensor([f[3] for f in found], device=device),
        score=torch.tensor([f[2] for f in found], device=device),
    )


def project_over_law(model: MLP, law: GroupLaw) -> MLP:
    """Project every neuron's U[k], V[k] and W[:, k] onto its dominant frequency over the
    found labels (power of U, V and W summed); tokens outside the group keep their trained
    weights. Same shapes, config and device as `model`.

    Raises:
        ValueError: `law` was found for another number of models or another p.
    """
    if law.order.shape != (model.cfg.models, model.cfg.p):
        raise ValueError(
            f"the law's order has shape {tuple(law.order.shape)}; this model needs "
            f"[models={model.cfg.models}, p={model.cfg.p}]"
        )
    weights = model.weights()
    rows = {"U": weights["U"], "V": weights["V"], "W": weights["W"].transpose(1, 2)}
    clean = {k: v.clone() for k, v in rows.items()}
    for m in range(model.cfg.models):
        members = law.order[m, : int(law.n[m])].to(model.device)
        ordered = {k: v[m][:, members] for k, v in rows.items()}  # [neurons, n]
        power = sum(torch.fft.rfft(v, dim=-1).abs().square() for v in ordered.values())
        dominant = power[:, 1 : (len(members) - 1) // 2 + 1].argmax(-1) + 1  # [neurons]
        for k, v in ordered.items():
            clean[k][m][:, members] = project_onto_frequencies(v, dominant)
    weights["U"], weights["V"], weights["W"] = clean["U"], clean["V"], clean["W"].transpose(1, 2)
    return MLP(model.cfg, model.device, weights)


def _interaction(cross: Tensor) -> Tensor:
    """T with every one- and two-way mean removed, standardized, float32."""
    t = cross
    for axes in ((0,), (1,), (2,)):
        t = t - t.mean(axes, keepdim=True)
    t = t / t.std().clamp_min(1e-30)
    return t.float()


def _outside_candidates(logits: Tensor) -> list[tuple[int, ...]]:
    """Which tokens may lie outside the group: none, or the one that most looks absorbing
    (z o y = z and y o z = z for every y: 0 for multiply), read off the mean logits over one
    input, where its diagonals stand out: outside when they do by more than ABSORBING_Z, either
    (the search decides by J) when by more than half that."""
    z = 0
    for mean in (logits.mean(1), logits.mean(0)):  # [x, z] and [y, z]
        m = mean - mean.mean(0, keepdim=True) - mean.mean(1, keepdim=True) + mean.mean()
        z = z + torch.diagonal(m) / m.std().clamp_min(1e-30)
    top = int(z.argmax())
    if z[top] > ABSORBING_Z:
        return [(top,)]
    return [(), (top,)] if z[top] > ABSORBING_Z / 2 else [()]


def _search(
    cross: Tensor,
    absorbing: tuple[int, ...],
    beam: int,
    keep: float,
    rounds: int,
    starts: int,
    confirm: int | None,
    consensus: int,
    first: Tensor | None = None,
) -> tuple[Tensor, int, float, bool]:
    """(order [p], n, z-score of J, confirmed) of the law x o y = z on cross [x, y, z], the
    tokens in `absorbing` set outside the group; stops after `confirm` starts found the best
    law (confirmed), else tries the `consensus` of the best laws the starts ended in.
    `first`: the order a one-round search of the first start found, which that start continues
    from instead of searching again."""
    p = cross.shape[0]
    y = torch.arange(p, device=cross.device)
    outside = torch.zeros(p, dtype=torch.bool, device=cross.device)
    outside[list(absorbing)] = True
    members = y[~outside]
    t = _interaction(cross[members][:, members][:, :, members])
    i = torch.arange(len(members), device=t.device)
    # the identity e: e o y = y and y o e = y for every y
    e_local = int((t[:, i, i].sum(1) + t[i, :, i].sum(0)).argmax())
    n = len(members)
    best, found, ended = None, 0, []
    # label 1: any token but e (all alike up to the group's automorphisms)
    for g in range(1, min(starts, n - 1) + 1):
        if g == 1 and first is not None:  # its beam and first round are done
            labels, score = _regrow(t, torch.searchsorted(members, first[:n]), beam, keep,
                                    rounds - 1)  # fmt: skip
        else:
            labels, score = _regrow(t, _grow(t, _start(n, e_local, (e_local + g) % n), beam),
                                    beam, keep, rounds)  # fmt: skip
        ended.append((labels, score))
        if best is not None and torch.equal(_table(labels), _table(best[0])):
            found += 1
        elif best is None or score > best[1]:
            best, found = (labels, score), 1
        if confirm is not None and found >= confirm:
            break
    for _ in range(rounds if consensus and (confirm is None or found < confirm) else 0):
        laws = _distinct(ended, consensus)
        if len(laws) < 2:
            break
        labels, score = _consensus(t, laws, e_local, beam, keep, rounds)
        if score <= best[1] + 1e-6:
            break
        best = labels, score
        ended.append(best)
    labels, score = best
    order = torch.cat([members[labels], y[outside]])
    return order, n, float(score) / n, confirm is not None and found >= confirm


def _distinct(laws: list[tuple[Tensor, Tensor]], k: int) -> list[Tensor]:
    """The labelings of the `k` best laws by J whose tables differ."""
    kept: list[Tensor] = []
    for labels, _ in sorted(laws, key=lambda law: -float(law[1])):
        if not any(torch.equal(_table(labels), _table(other)) for other in kept):
            kept.append(labels)
        if len(kept) == k:
            break
    return kept


def _consensus(
    t: Tensor, laws: list[Tensor], e: int, beam: int, keep: float, rounds: int, tries: int = 8
) -> tuple[Tensor, Tensor]:
    """(labels, J on t) of the best law found from the entries x o y = z that two or more of
    `laws` share: partial laws of one network are each right on part of the table and wrong
    elsewhere in different ways, so where they agree they are mostly right (measured at p 97,
    noise 0.7-0.8: three partial laws right on 0.51-0.58 of the table agree on about half of
    it). That table is searched like t from `tries` starts; each law found climbs on t."""
    n = len(t)
    tables = torch.stack([_table(labels) for labels in laws]).permute(1, 2, 0)  # [x, y, law]
    votes = torch.zeros((n,) * 3, dtype=torch.float64, device=t.device)
    votes.scatter_add_(2, tables, torch.ones(tables.shape, dtype=votes.dtype, device=t.device))
    agreed = _interaction((votes >= 2).double())
    best = None
    for g in range(1, min(tries, n - 1) + 1):
        start = _grow(agreed, _start(n, e, (e + g) % n), beam)
        labels, _ = _regrow(agreed, start, beam, keep, rounds)
        labels, score = _regrow(t, labels, beam, keep, rounds)
        if best is None or score > best[1]:
            best = labels, score
    return best


def _regrow(
    t: Tensor, labels: Tensor, beam: int, keep: float, rounds: int
) -> tuple[Tensor, Tensor]:
    """Keep the most confidently placed tokens, regrow the rest, climb; while J grows."""
    n, e = len(labels), labels[0]
    score = _law_score(t, labels)
    for _ in range(rounds):
        sig = _inverse(labels)
        margin = _margins(t, sig, labels)
        confident = margin.argsort(descending=True)[: max(2, int(keep * n))]
        start = torch.full((n,), n, dtype=torch.long, device=t.device)
        start[sig[confident]] = confident
        start[0] = e
        grown = _climb(t, _grow(t, start, beam))
        new = _law_score(t, grown)
        if new <= score + 1e-6:
            break
        labels, score = grown, new
    return labels, score


def _table(labels: Tensor) -> Tensor:
    """`[n, n]`: the token x o y of the law, the same for labelings an automorphism apart."""
    sig = _inverse(labels)
    return labels[(sig[:, None] + sig[None, :]) % len(labels)]


def _start(n: int, e: int, g: int) -> Tensor:
    labels = torch.full((n,), n, dtype=torch.long)  # labels[j] = token; n: not yet placed
    labels[0], labels[1] = e, g
    return labels


def _inverse(labels: Tensor) -> Tensor:
    sig = torch.empty_like(labels)
    sig[labels] = torch.arange(len(labels), device=labels.device)
    return sig


def _law_score(t: Tensor, labels: Tensor) -> Tensor:
    """J: the sum of t over the table x o y = labels[sig x + sig y]."""
    n = len(labels)
    sig = _inverse(labels)
    x = torch.arange(n, device=t.device)
    return t[x[:, None], x[None, :], labels[(sig[:, None] + sig[None, :]) % n]].sum()


def _row_tables(t: Tensor) -> list[Tensor]:
    """t `[m, m, m]` as three tables of rows `[m^2, m]`: (x, y) -> z, (y, z) -> x, (x, z) -> y.
    Summing the rows of given pairs (`embedding_bag`) scores every candidate third token at once,
    with no [pairs, m] gather in between; contiguous, as embedding_bag is slow otherwise."""
    m = len(t)
    return [
        t.permute(*axes).contiguous().view(m * m, m) for axes in ((0, 1, 2), (1, 2, 0), (0, 2, 1))
    ]


def _scores(t: Tensor, sig: Tensor, labels: Tensor) -> Tensor:
    """`[token, label]`: the entries of t that token would fill at that label, the others
    fixed (as output of two labelled tokens, as first input, as second input)."""
    n = len(labels)
    a = torch.arange(n, device=t.device)
    diff = labels[(a[:, None] - sig[None, :]) % n]  # [label j, a]: the token labelled j - sig a
    total = labels[(a[:, None] + sig[None, :]) % n]  # [label j, a]: the token labelled j + sig a
    rows = _row_tables(t)  # each [j, x]: t[a, diff, x], t[x, a, total], t[a, x, total] over a
    s = F.embedding_bag(a * n + diff, rows[0], mode="sum")
    s += F.embedding_bag(a * n + total, rows[1], mode="sum")
    s += F.embedding_bag(a * n + total, rows[2], mode="sum")
    return s.T


def _margins(t: Tensor, sig: Tensor, labels: Tensor) -> Tensor:
    """How much better each token scores at its label than at its best other one."""
    s = _scores(t, sig, labels)
    own = s.gather(1, sig[:, None]).squeeze(1)
    s = s.scatter(1, sig[:, None], float("-inf"))
    return own - s.max(1).values


def _grow(t: Tensor, start: Tensor, beam: int, branch: int = 8) -> Tensor:
    """Beam search over the unplaced labels of `start` (n marks one), most constrained label
    first; returns the best full labeling `[n]` (label -> token)."""
    n = len(start)
    pad = torch.zeros((n + 1,) * 3, dtype=t.dtype, device=t.device)
    pad[:n, :n, :n] = t  # index n (unplaced) reads 0
    rows = _row_tables(pad)
    labels = start.to(t.device)[None]  # [states, n]
    cum = torch.zeros(1, dtype=t.dtype, device=t.device)
    i = torch.arange(n, device=t.device)
    minus, plus = (i[:, None] - i[None, :]) % n, (i[:, None] + i[None, :]) % n
    while (labels[0] == n).any():
        known = labels[0] < n
        constrained = (known[None, :] & known[minus]).sum(1)
        constrained += 2 * (known[None, :] & known[plus]).sum(1)
        constrained[known] = -1
        j = int(constrained.argmax())
        lo, lt = labels[:, minus[j]], labels[:, plus[j]]  # the tokens at labels j - i, i + j
        s = F.embedding_bag(labels * (n + 1) + lo, rows[0], mode="sum")  # (i) o (j - i)
        s += F.embedding_bag(labels * (n + 1) + lt, rows[1], mode="sum")  # x o (i) = (i + j)
        s += F.embedding_bag(labels * (n + 1) + lt, rows[2], mode="sum")  # (i) o x = (i + j)
        s = s.scatter_(1, labels, float("-inf"))[:, :n]  # placed tokens (and n) are out
        k = min(branch, int((labels[0] == n).sum()))
        top_s, top = s.topk(k, dim=1)
        cand = (cum[:, None] + top_s).flatten()
        best = cand.topk(min(beam, len(cand))).indices
        state, pick = best // k, best % k
        labels = labels[state].clone()
        labels[:, j] = top[state, pick]
        cum = cand[best]
    return labels[0]


def _climb(t: Tensor, labels: Tensor, candidates: int = 300) -> Tensor:
    """Greedy swaps of two tokens' labels while J grows: linearized gains pick the candidates,
    the exact J decides."""
    n = len(labels)
    labels = labels.clone()
    score = _law_score(t, labels)
    iu = torch.triu_indices(n, n, 1, device=t.device)
    for _ in range(20 * n):
        sig = _inverse(labels)
        s = _scores(t, sig, labels)
        own = s.gather(1, sig[:, None]).squeeze(1)
        swapped = s[:, sig]  # [x, y]: x at y's label
        gain = (swapped + swapped.T - own[:, None] - own[None, :])[iu[0], iu[1]]
        gains, idx = gain.topk(min(candidates, len(gain)))
        moved = False
        for g, c in zip(gains.tolist(), idx.tolist()):
            if g <= 0:
                break
            x, y = int(iu[0, c]), int(iu[1, c])
            trial = labels.clone()
            trial[sig[x]], trial[sig[y]] = y, x
            new = _law_score(t, trial)
            if new > score:
                labels, score, moved = trial, new, True
                break
        if not moved:
            break
    return labels

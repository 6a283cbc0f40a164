import itertools
import json
import math
import re

import pytest
import torch

import interp
from interp.core.runs import CheckpointError, load_run, save_model
from interp.models.dit import DiT, DiTConfig
from interp.tasks.bitrules import RULES, all_valid, is_valid, sample_valid, to_bits, to_signal
from interp.tasks.rules import SMALL_SET, RuleConfig, RuleTask, _distinct_draws, rule_task


def n_valid(rule: str, d: int | None = None, group: int | None = None) -> int:
    """The rule's count, read from a task of one string (`RuleTask.n_valid`)."""
    return rule_task(rule, d, N=1, group=group).n_valid


def chance_rate(rule: str, d: int | None = None, group: int | None = None) -> float:
    return rule_task(rule, d, N=1, group=group).chance_rate


# Brute-force references on tuples of 0/1, written from each rule's definition.
def _cells(s: tuple) -> list[list[int]]:
    symbols = [2 * s[2 * k] + s[2 * k + 1] for k in range(16)]
    return [symbols[4 * r : 4 * r + 4] for r in range(4)]


def _latin(s: tuple) -> bool:
    grid = _cells(s)
    lines = grid + [[grid[r][c] for r in range(4)] for c in range(4)]
    return all(sorted(line) == [0, 1, 2, 3] for line in lines)


def _sudoku(s: tuple) -> bool:
    grid = _cells(s)
    boxes = [
        [grid[r][c] for r in (br, br + 1) for c in (bc, bc + 1)] for br in (0, 2) for bc in (0, 2)
    ]
    return _latin(s) and all(sorted(box) == [0, 1, 2, 3] for box in boxes)


BRUTE = {
    "parity": lambda s, g: sum(s) % 2 == 0,
    "group_parity": lambda s, g: all(sum(s[i : i + g]) % 2 == 0 for i in range(0, len(s), g)),
    "no_adjacent_ones": lambda s, g: all(not (a and b) for a, b in itertools.pairwise(s)),
    "balanced": lambda s, g: 2 * sum(s) == len(s),
    "latin_square": lambda s, g: _latin(s),
    "sudoku": lambda s, g: _sudoku(s),
}
STRING_RULES = [(rule, None) for rule in ("parity", "no_adjacent_ones", "balanced")]
# Every divisor G >= 2 of d = 8 and 12, G = d included (plain parity).
EXHAUSTIVE = [(rule, group, d) for rule, group in STRING_RULES for d in (8, 12)] + [
    ("group_parity", g, d) for d in (8, 12) for g in range(2, d + 1) if d % g == 0
]
PUZZLES = ["latin_square", "sudoku"]


def _all_tuples(d: int) -> list[tuple]:
    return list(itertools.product((0, 1), repeat=d))


def _puzzle_grids(sudoku: bool) -> list[tuple]:
    """Every Latin square (Sudoku) as a bit tuple, by backtracking over cells."""
    found = []

    def fill(cells: list[int]) -> None:
        if len(cells) == 16:
            bits = tuple(b for x in cells for b in (x // 2, x % 2))
            if not sudoku or _sudoku(bits):
                found.append(bits)
            return
        r, c = divmod(len(cells), 4)
        for x in range(4):
            if x not in cells[4 * r :] and all(cells[4 * i + c] != x for i in range(r)):
                fill(cells + [x])

    fill([])
    return found


def _index_in(rows: torch.Tensor, valid_set: torch.Tensor) -> torch.Tensor:
    """Index of each row in `valid_set` (sorted lexicographically, d <= 62), -1 if absent."""
    weights = 2 ** torch.arange(rows.shape[-1] - 1, -1, -1)
    keys, table = (rows * weights).sum(-1), (valid_set * weights).sum(-1)
    idx = torch.searchsorted(table, keys).clamp(max=len(table) - 1)
    return torch.where(table[idx] == keys, idx, -1)


def test_every_rule_has_a_reference():
    assert set(BRUTE) == set(RULES)


@pytest.mark.parametrize("rule, group, d", EXHAUSTIVE)
def test_checker_count_and_list_match_brute_force(rule, group, d):
    strings = _all_tuples(d)
    expected = [BRUTE[rule](s, group) for s in strings]
    bits = torch.tensor(strings)
    for dtype in (torch.long, torch.uint8, torch.bool):
        assert is_valid(bits.to(dtype), rule, group).tolist() == expected
    brute_valid = [s for s, ok in zip(strings, expected) if ok]  # lexicographic already
    assert n_valid(rule, d, group) == len(brute_valid)
    assert chance_rate(rule, d, group) == len(brute_valid) / 2**d
    assert all_valid(rule, d, group).tolist() == [list(s) for s in brute_valid]


def test_checkers_keep_batch_shape():
    bits = torch.randint(0, 2, (3, 5, 12))
    for rule, group in STRING_RULES + [("group_parity", 3)]:
        flat = is_valid(bits.flatten(0, 1), rule, group)
        assert torch.equal(is_valid(bits, rule, group), flat.view(3, 5))


@pytest.mark.parametrize("d", [2, 7, 16, 31, 64, 100])
def test_counts_in_closed_form(d):
    fib = [0, 1]
    while len(fib) < d + 3:
        fib.append(fib[-1] + fib[-2])
    assert n_valid("parity", d) == 2 ** (d - 1)
    assert n_valid("no_adjacent_ones", d) == fib[d + 2]
    assert n_valid("group_parity", d, group=d) == 2 ** (d - 1)  # group = d is parity
    if d % 2 == 0:
        assert n_valid("balanced", d) == math.comb(d, d // 2)
        assert n_valid("group_parity", d, group=2) == 2 ** (d // 2)


@pytest.mark.parametrize("rule, count", [("latin_square", 576), ("sudoku", 288)])
def test_puzzles_list_every_grid(rule, count):
    brute = _puzzle_grids(sudoku=rule == "sudoku")
    assert len(brute) == n_valid(rule) == count
    assert all_valid(rule).tolist() == [list(s) for s in sorted(brute)]
    assert chance_rate(rule) == count / 2**32


@pytest.mark.parametrize("rule", PUZZLES)
def test_puzzle_checker_matches_definition(rule):
    latin = all_valid("latin_square")  # every Latin square: half of them are Sudokus
    flips = (latin[:, None, :] ^ torch.eye(32, dtype=torch.long)).flatten(0, 1)  # one bit off
    gen = torch.Generator().manual_seed(0)
    swaps = latin.view(-1, 16, 2).clone()
    i, j = torch.randint(16, (2, len(latin)), generator=gen)
    rows = torch.arange(len(latin))
    swaps[rows, i], swaps[rows, j] = swaps[rows, j], swaps[rows, i]  # two cells exchanged
    random = torch.randint(0, 2, (2000, 32), generator=gen)
    for bits in (latin, flips, swaps.flatten(1), random):
        expected = [BRUTE[rule](tuple(s), None) for s in bits.tolist()]
        assert is_valid(bits, rule).tolist() == expected
    assert not is_valid(flips, rule).any()
    assert is_valid(latin, "sudoku").sum() == 288


@pytest.mark.parametrize(
    "rule, d, group",
    [
        ("parity", 8, None),
        ("group_parity", 8, 2),
        ("group_parity", 9, 3),
        ("no_adjacent_ones", 9, None),
        ("balanced", 8, None),
        ("latin_square", 32, None),
        ("sudoku", 32, None),
    ],
)
def test_sampler_is_uniform_over_the_valid_set(rule, d, group):
    """Chi-square of 100 draws per valid string; every draw is valid."""
    table = all_valid(rule, d, group)
    gen = torch.Generator().manual_seed(1)
    bits = sample_valid(rule, 100 * len(table), d, group, generator=gen)
    assert bits.shape == (100 * len(table), d) and bits.dtype == torch.long
    assert is_valid(bits, rule, group).all()
    idx = _index_in(bits, table)
    assert (idx >= 0).all()
    counts = torch.bincount(idx, minlength=len(table)).double()
    chi2 = ((counts - 100) ** 2 / 100).sum().item()
    dof = len(table) - 1
    assert chi2 < dof + 8 * (2 * dof) ** 0.5  # ~8 sigma: loose, never flaky


@pytest.mark.parametrize(
    "rule, d, group",
    [("parity", 200, None), ("group_parity", 96, 4), ("no_adjacent_ones", 150, None)]
    + [("balanced", 128, None)],
)
def test_sampler_handles_long_strings(rule, d, group):
    bits = sample_valid(rule, 500, d, group, generator=torch.Generator().manual_seed(0))
    assert is_valid(bits, rule, group).all()
    assert len({tuple(s) for s in bits.tolist()}) == 500  # a huge set: no repeats


def test_no_adjacent_ones_bit_frequency():
    """A uniform string of this rule has a 1 at its first bit with chance c(d-2) / c(d)."""
    d, n = 20, 200_000
    bits = sample_valid("no_adjacent_ones", n, d, generator=torch.Generator().manual_seed(2))
    p = n_valid("no_adjacent_ones", d - 2) / n_valid("no_adjacent_ones", d)
    assert abs(bits[:, 0].double().mean().item() - p) < 6 * (p * (1 - p) / n) ** 0.5


def _inclusion_chi2(sets: torch.Tensor, table: torch.Tensor) -> tuple[float, int]:
    """Chi-square of how often each valid string is in a set, vs the uniform expectation."""
    counts = torch.bincount(_index_in(sets.flatten(0, 1), table), minlength=len(table))
    expected = sets.shape[0] * sets.shape[1] / len(table)
    return ((counts - expected) ** 2 / expected).sum().item(), len(table) - 1


def test_datasets_are_uniform_subsets():
    """Both draws without replacement (the listed and the iid one) include each string alike."""
    table = all_valid("balanced", 8)  # 70 strings
    listed = rule_task("balanced", d=8, N=7, seed=list(range(400))).data
    gens = [torch.Generator().manual_seed(s) for s in range(400)]
    iid = torch.stack([_distinct_draws(RULES["balanced"], 7, 8, None, g) for g in gens]).long()
    for sets in (listed, iid):
        assert all(len({tuple(s) for s in rows}) == 7 for rows in sets.tolist())
        chi2, dof = _inclusion_chi2(sets, table)
        assert chi2 < dof + 8 * (2 * dof) ** 0.5


@pytest.mark.parametrize(
    "rule, d, group",
    [
        ("parity", 10, None),  # listed: n_valid <= SMALL_SET
        ("parity", 40, None),  # iid draws
        ("group_parity", 36, 3),
        ("no_adjacent_ones", 30, None),
        ("balanced", 24, None),
        ("sudoku", 32, None),
    ],
)
def test_training_sets_are_distinct_valid_and_reproducible(rule, d, group):
    n = [5, min(3000, n_valid(rule, d, group))]  # 3000 > 1024: several iid chunks
    task = rule_task(rule, d, N=n, group=group, seed=[0, 1])
    assert task.data.shape == (2, n[1], d) and task.data.dtype == torch.long
    assert task.mask.tolist() == [[i < k for i in range(n[1])] for k in n]
    assert (task.data[~task.mask] == 0).all()  # padding
    assert task.valid(task.data[task.mask]).all()
    for m in range(2):
        rows = task.train_set(m)
        assert rows.shape == (n[m], d)
        assert len({tuple(s) for s in rows.tolist()}) == n[m]
    again = RuleTask.from_config(task.config)
    assert torch.equal(again.data, task.data) and torch.equal(again.mask, task.mask)
    other = rule_task(rule, d, N=n[1], group=group, seed=2)
    assert not torch.equal(other.train_set(0), task.train_set(1))


@pytest.mark.parametrize(
    "rule, d, largest", [("parity", 12, 2000), ("parity", 48, 2000), ("latin_square", 32, 576)]
)
def test_one_seed_gives_nested_training_sets(rule, d, largest):
    task = rule_task(rule, d, N=[3, 500, largest, 40], seed=7)
    for m, n in enumerate(task.N):
        assert torch.equal(task.train_set(m), task.data[2, :n])


def test_n_equal_to_n_valid_draws_the_whole_set():
    for rule, d in [("sudoku", 32), ("balanced", 10)]:
        task = rule_task(rule, d, N=n_valid(rule, d), seed=3)
        assert sorted(task.train_set(0).tolist()) == all_valid(rule, d).tolist()
    assert n_valid("no_adjacent_ones", 23) > SMALL_SET  # the iid draws, collecting every string
    task = rule_task("no_adjacent_ones", 23, N=n_valid("no_adjacent_ones", 23), seed=0)
    assert sorted(task.train_set(0).tolist()) == all_valid("no_adjacent_ones", 23).tolist()


def test_same_seed_same_set_whatever_the_ensemble():
    solo = rule_task("group_parity", 20, N=300, group=4, seed=5)
    ensemble = rule_task("group_parity", 20, N=[50, 300, 10], group=4, seed=[1, 5, 2])
    sub = ensemble.select([1])
    assert sub.config == solo.config
    assert torch.equal(sub.data, solo.data) and torch.equal(sub.mask, solo.mask)


def test_select_trims_padding_and_regenerates():
    task = rule_task("parity", 16, N=[10, 400, 30], seed=[0, 1, 2])
    sub = task.select([2, 0])
    assert sub.config.N == (30, 10) and sub.config.seed == (2, 0)
    assert sub.data.shape == (2, 30, 16)
    regenerated = RuleTask.from_config(sub.config)
    assert torch.equal(sub.data, regenerated.data) and torch.equal(sub.mask, regenerated.mask)
    assert task.select(1).models == 1


def test_is_training_sample_matches_set_membership():
    task = rule_task("parity", 8, N=[10, 60], seed=[0, 1])
    samples = sample_valid("parity", 2 * 300, 8, generator=torch.Generator().manual_seed(4))
    samples = samples.view(2, 300, 8)
    hits = task.is_training_sample(samples)
    assert hits.shape == (2, 300) and hits.dtype == torch.bool
    for m in range(2):
        train = {tuple(s) for s in task.train_set(m).tolist()}
        assert hits[m].tolist() == [tuple(s) in train for s in samples[m].tolist()]
    assert 0 < hits[0].sum() < hits[1].sum()  # both outcomes occur; a bigger set, more hits
    batched = task.is_training_sample(samples.view(2, 3, 100, 8).bool())
    assert torch.equal(batched, hits.view(2, 3, 100))


def test_is_training_sample_ignores_padding_and_other_models():
    task = rule_task("balanced", 6, N=[2, 3], seed=[0, 1])
    assert task.is_training_sample(task.data).tolist() == task.mask.tolist()
    zeros = torch.zeros(2, 1, 6, dtype=torch.long)  # the padding row is not a training string
    assert not task.is_training_sample(zeros).any()
    swapped = task.data[[1, 0], :2]  # each model asked about the other's first two strings
    own = [{tuple(s) for s in task.train_set(m).tolist()} for m in range(2)]
    expected = [[tuple(s) in own[m] for s in swapped[m].tolist()] for m in range(2)]
    assert task.is_training_sample(swapped).tolist() == expected
    assert expected != [[True, True], [True, True]]  # the seeds differ: some strings do not match


def test_is_training_sample_on_long_strings():
    """d > 63: strings are keyed by several words; one flipped bit anywhere is a miss."""
    task = rule_task("parity", 130, N=[40, 40], seed=[0, 1])
    assert task.is_training_sample(task.data).all()
    flipped = task.data.clone()
    flipped[0, torch.arange(40), torch.arange(40) * 3] ^= 1
    flipped[1, :, 129] ^= 1
    assert not task.is_training_sample(flipped).any()


def test_signal_round_trip():
    bits = rule_task("balanced", 16, N=500, seed=0).train_set(0)
    x = to_signal(bits)
    assert x.dtype == torch.float32 and set(x.unique().tolist()) == {-0.5, 0.5}
    assert x.std().item() == pytest.approx(0.5, abs=0.01)
    assert to_signal(bits, torch.float64).dtype == torch.float64
    assert to_bits(x).dtype == torch.long and torch.equal(to_bits(x), bits)
    noisy = x + 0.49 * (2 * torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) - 1)
    assert torch.equal(to_bits(noisy), bits)


def test_config_round_trips_through_json():
    cfg = rule_task("group_parity", 12, N=[10, 20], group=3, seed=[4, 5]).config
    assert cfg.models == 2
    back = RuleConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg
    assert RuleTask.from_config(back).n_valid == 256
    assert rule_task("sudoku", N=1).config.d == 32 and rule_task("parity", N=1).config.d == 16


def test_config_from_dict_refuses_unknown_missing_and_bad_values():
    stored = rule_task("parity", 10, N=[5, 50], seed=[1, 2]).config.to_dict()
    with pytest.raises(ValueError, match="unknown key 'n_valid'") as info:
        RuleConfig.from_dict({**stored, "n_valid": 512})
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="missing key 'seed'"):
        RuleConfig.from_dict({k: v for k, v in stored.items() if k != "seed"})
    with pytest.raises(ValueError, match="N=513"):
        RuleConfig.from_dict({**stored, "N": [5, 513]})
    with pytest.raises(ValueError, match="must be a JSON object"):
        RuleConfig.from_dict([stored])


def test_scalars_broadcast_over_models():
    cfg = rule_task("parity", 10, N=[5, 50, 500], seed=9).config
    assert cfg.seed == (9, 9, 9) and cfg.N == (5, 50, 500)
    cfg = rule_task("parity", 10, N=7, seed=[1, 2]).config
    assert cfg.N == (7, 7) and cfg.models == 2


def test_task_exposes_rule_facts():
    task = rule_task("no_adjacent_ones", 10, N=[4, 8], seed=[0, 1])
    assert (task.models, task.d, task.N) == (2, 10, (4, 8))
    assert task.n_valid == 144 and task.chance_rate == 144 / 1024
    assert task.to("cpu").data.device.type == "cpu"


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda: rule_task("xor"), "'xor'"),
        (lambda: rule_task("group_parity", 12, group=5), "group=5"),
        (lambda: rule_task("group_parity", 12, group=1), "group=1"),
        (lambda: rule_task("group_parity", 12), "group=None"),
        (lambda: rule_task("group_parity", 12, group=24), "group=24"),
        (lambda: rule_task("parity", 12, group=3), "group=3"),
        (lambda: rule_task("parity", 8, N=129), "N=129"),
        (lambda: rule_task("sudoku", N=[10, 289]), "N=289"),
        (lambda: rule_task("parity", 8, N=0), "N=0"),
        (lambda: rule_task("parity", 8, N=2.5), "N=2.5"),
        (lambda: rule_task("parity", 8, N=4, seed=1.5), "seed=1.5"),
        (lambda: rule_task("balanced", 9), "d=9"),
        (lambda: rule_task("latin_square", 16), "d=16"),
        (lambda: rule_task("parity", 1), "d=1"),
        (lambda: rule_task("parity", 8.0), "d=8.0"),
        (lambda: rule_task("parity", 8, N=[1, 2], seed=[0, 1, 2]), "N has 2 values"),
        (lambda: rule_task("parity", 8, N=[]), "must not be empty"),
        (lambda: is_valid(torch.zeros(3, 8), "parity"), "torch.float32"),
        (lambda: is_valid(torch.zeros(3, 7, dtype=torch.long), "balanced"), "d=7"),
        (lambda: all_valid("parity", 40), "549755813888"),
        (lambda: rule_task("parity", 8, N=4).valid(torch.zeros(2, 9, dtype=torch.long)), "d=8"),
        (
            lambda: rule_task("parity", 8, N=4).is_training_sample(torch.zeros(2, 3, 8).long()),
            "2 models",
        ),
    ],
)
def test_bad_inputs_raise_one_line_naming_the_value(call, named):
    with pytest.raises(ValueError, match=re.escape(named)) as info:
        call()
    assert "\n" not in str(info.value)


def test_public_names():
    assert interp.rule_task is rule_task
    for removed in ("make_rule_task", "rule_config", "n_valid", "chance_rate"):
        assert not hasattr(interp.tasks.rules, removed), removed


def test_a_rule_run_whose_strings_disagree_with_its_config_is_refused(tmp_path):
    task = rule_task("parity", 8, N=[4, 6], seed=[0, 1])
    model = DiT(DiTConfig(d=8, d_model=8, n_layers=1, n_heads=2, models=2))
    save_model(model, tmp_path / "run", task)
    run = load_run(tmp_path / "run")
    assert torch.equal(run.task.data, task.data) and torch.equal(run.task.mask, task.mask)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config["task"]["seed"] = [0, 2]  # an edited config: model 1's strings would differ
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"step_0000000.safetensors: task.data does not"):
        _ = load_run(tmp_path / "run").task

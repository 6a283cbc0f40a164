"""Edge streams and EdgeBank: the loader and the split, EdgeBank against a brute-force memory,
each negative sampler's defining property, and the closed form of a binary scorer's AUC; the
learned scorer (it learns, reproducibly, online) and the memory split (EdgeBank's closed forms)."""

import numpy as np
import pytest

from interp.cli import main
from interp.studies.edgebank import (
    EdgeBank,
    LinkModel,
    evaluate,
    hist_rnd_negatives,
    memory_split,
    mrr,
    one_vs_many,
    pair_keys,
    sample_negatives,
)
from interp.tasks.edges import EdgeStream, chronological_split, edge_stream, load_edges


@pytest.fixture(scope="module")
def split():
    return chronological_split(edge_stream(nodes=60, edges=3000, recurrence=0.7, seed=3), seed=0)


def test_the_loader_reads_plain_text_and_dgb_csv(tmp_path):
    (tmp_path / "plain.txt").write_text("3 4 20\n1 2 10\n")
    plain = load_edges(tmp_path / "plain.txt")
    assert plain.src.tolist() == [1, 3] and plain.t.tolist() == [10.0, 20.0]
    (tmp_path / "ml.csv").write_text(",u,i,ts,label,idx\n0,5,6,1.5,0,1\n1,7,8,0.5,0,2\n")
    dgb = load_edges(tmp_path / "ml.csv")
    assert dgb.src.tolist() == [7, 5] and dgb.dst.tolist() == [8, 6]
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="no column for src, dst, t"):
        load_edges(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="no such file"):
        load_edges(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="non-decreasing"):
        EdgeStream(np.array([0, 1]), np.array([1, 0]), np.array([2.0, 1.0]))


def test_the_split_follows_the_time_quantiles_and_holds_new_nodes_out(split):
    stream = split.stream
    assert (stream.t[split.train] <= split.val_time).all()
    assert (stream.t[split.val] > split.val_time).all() and (
        stream.t[split.test] > split.test_time
    ).all()
    touches = np.isin(stream.src, split.new_nodes) | np.isin(stream.dst, split.new_nodes)
    assert not (split.train & touches).any() and (split.test & touches).any()
    assert abs(split.test.mean() - 0.15) < 0.01


@pytest.mark.parametrize("mode", ["unlimited", "window"])
def test_edgebank_is_the_memory_of_pairs_seen(split, mode):
    stream = split.stream
    bank = EdgeBank(mode, window=0.15)
    bank.update(stream.src[:2000], stream.dst[:2000], stream.t[:2000])
    keep = slice(0, 2000) if mode == "unlimited" else slice(2000 - 300, 2000)  # last 15% by count
    seen = set(zip(stream.src[keep].tolist(), stream.dst[keep].tolist()))
    queries = np.random.default_rng(0).integers(60, size=(2, 500))
    expected = [float((s, d) in seen) for s, d in zip(*queries.tolist())]
    assert bank(queries[0], queries[1]).tolist() == expected


@pytest.mark.parametrize("kind", ["random", "historical", "inductive"])
def test_each_negative_sampler_keeps_its_definition(split, kind):
    stream = split.stream
    test = np.flatnonzero(split.test)
    batch = slice(test[200], test[400])
    src, dst = sample_negatives(kind, split, batch, np.random.default_rng(0))
    positives = set(pair_keys(stream.src[batch], stream.dst[batch]).tolist())
    keys = pair_keys(src, dst).tolist()
    assert len(keys) == 200
    before = stream.t < stream.t[batch][0]
    pool = set(pair_keys(stream.src[before], stream.dst[before]).tolist()) - positives
    if kind == "inductive":  # only pairs first seen in the test period
        early = stream.t <= split.test_time
        pool -= set(pair_keys(stream.src[early], stream.dst[early]).tolist())
    drawn = min(len(pool), 200) if kind != "random" else 0
    assert len(set(keys[:drawn])) == drawn and set(keys[:drawn]) <= pool
    # random pairs (and the top-up): the positive's source, a destination of the stream
    assert (src[drawn:] == stream.src[batch][drawn:]).all()
    assert np.isin(dst[drawn:], stream.dst).all()
    if kind == "inductive":
        assert 0 < drawn < 200  # this stream exercises both the pool and the top-up


def test_a_binary_scorers_auc_is_half_plus_half_the_gap(split):
    for kind in ("random", "historical"):
        scores = evaluate(EdgeBank(), split, kind)
        assert scores.auc == pytest.approx(0.5 + (scores.p_pos - scores.p_neg) / 2, abs=1e-9)


def test_any_scorer_is_evaluated_the_same_way(split):
    stream, known = split.stream, split.train | split.val
    frozen = EdgeBank()  # the memory of training and validation, not learning through the test
    frozen.update(stream.src[known], stream.dst[known], stream.t[known])
    learning = evaluate(EdgeBank(), split)
    fixed = evaluate(lambda s, d, t: frozen(s, d), split)
    assert fixed.p_neg == learning.p_neg or fixed.auc < learning.auc
    assert fixed.p_pos < learning.p_pos  # test edges recur within the test period
    constant = evaluate(lambda s, d, t: np.zeros(len(s)), split)
    assert constant.auc == 0.5
    with pytest.raises(ValueError, match="negatives 'hard'"):
        evaluate(EdgeBank(), split, "hard")


def test_the_reoccurrence_and_frequency_memories_match_their_definitions():
    src = np.array([0, 1, 0, 2, 0, 1, 3])
    dst = np.array([1, 2, 1, 3, 1, 2, 4])
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 7.0, 8.0])  # (0,1) at 0, 2, 4; (1,2) at 1, 7
    frequency = EdgeBank("frequency")
    frequency.update(src, dst, t)
    # counts 3, 2, 1, 1 (mean 1.75): the pairs seen at least that often
    assert frequency(np.array([0, 1, 2, 3]), np.array([1, 2, 3, 4])).tolist() == [1, 1, 0, 0]
    recent = EdgeBank("reoccurrence")
    recent.update(src, dst, t)
    # gaps 2, 2 (pair 0-1) and 6 (pair 1-2): mean 10/3; at time 9 the window starts at 5.67
    scores = recent(np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([9.0, 9.0, 9.0]))
    assert scores.tolist() == [0, 1, 1]


def test_mrr_counts_ties_half_as_tgb_does():
    assert mrr(np.array([1.0]), np.array([[1.0, 1.0, 0.0]])) == 0.5  # rank 1 + (0 + 2) / 2
    assert mrr(np.array([2.0]), np.array([[1.0, 0.0]])) == 1.0
    assert mrr(np.array([0.0]), np.array([[1.0, 0.5]])) == pytest.approx(1 / 3)


def test_one_vs_many_ranks_against_historical_and_random_destinations(split):
    stream = split.stream
    rng = np.random.default_rng(0)
    index = int(np.flatnonzero(split.test)[100])
    negatives = hist_rnd_negatives(split, index, 10, rng)
    s, d, t = stream.src[index], stream.dst[index], stream.t[index]
    past = set(stream.dst[(stream.src == s) & (stream.t < t)].tolist()) - {int(d)}
    assert len(set(negatives.tolist())) == 10 and d not in negatives
    assert set(negatives[: min(5, len(past))].tolist()) <= past
    k = 10  # a scorer that ties everything ranks 1 + k / 2
    assert one_vs_many(lambda a, b, c: np.zeros(len(a)), split, k=k) == pytest.approx(1 / 6)
    assert 1 / 6 < one_vs_many(EdgeBank(), split, k=k) < 1
    with pytest.raises(ValueError, match="only 60 destinations"):
        one_vs_many(EdgeBank(), split, k=100)


def test_the_learned_scorer_beats_chance_and_is_reproducible(split):
    first = evaluate(LinkModel(split.stream.nodes, seed=0), split)
    assert first.auc > 0.65 and first.ap > 0.65  # seeds 0-5: AUC 0.70-0.73; recurrence 0: 0.5
    again = evaluate(LinkModel(split.stream.nodes, seed=0), split)
    assert again == first
    other = evaluate(LinkModel(split.stream.nodes, seed=1), split)
    assert other != first
    stream = split.stream  # nothing to learn in a stream of fresh uniform pairs
    chance = chronological_split(edge_stream(nodes=60, edges=3000, recurrence=0.0, seed=0))
    assert abs(evaluate(LinkModel(stream.nodes, seed=0), chance).auc - 0.5) < 0.05


def test_the_learned_scorer_learns_each_batch_it_is_fed(split):
    stream, known = split.stream, split.train | split.val
    model = LinkModel(stream.nodes, seed=0)
    model.update(stream.src[known], stream.dst[known], stream.t[known])  # the first: training
    assert model.fitted
    batch = np.flatnonzero(split.test)[:200]
    src, dst, t = stream.src[batch], stream.dst[batch], stream.t[batch]
    before = model(src, dst, t)
    model.update(src, dst, t)  # online: a few Adam steps on the batch
    after = model(src, dst, t)
    assert after.mean() > before.mean() + 0.1
    frozen = LinkModel(stream.nodes, seed=0, online_steps=0)
    frozen.fit(stream.src[known], stream.dst[known])
    still = frozen(src, dst)
    frozen.update(src, dst, t)
    assert (frozen(src, dst) == still).all()


def test_unknown_nodes_share_one_embedding_until_learned(split):
    stream, known = split.stream, split.train | split.val
    held = int(split.new_nodes[0])
    assert held not in np.r_[stream.src[split.train], stream.dst[split.train]]
    model = LinkModel(stream.nodes, seed=0).fit(stream.src[split.train], stream.dst[split.train])
    dst = stream.dst[known][:5]
    unknown = model(np.full(5, stream.nodes + 7), dst)  # beyond the table
    assert (model(np.full(5, held), dst) == unknown).all()
    model.update(np.array([held]), np.array([int(dst[0])]), np.array([0.0]))
    assert not (model(np.full(5, held), dst) == unknown).all()


def test_the_memory_split_of_edgebank_has_its_closed_forms(split):
    stream = split.stream
    for kind in ("random", "historical", "inductive"):
        m = memory_split(EdgeBank(), split, kind)
        assert m.scores == evaluate(EdgeBank(), split, kind)
        q = m.negatives_in_memory
        assert m.memory_auc == 1.0
        assert m.auc_repeat == pytest.approx(1 - q / 2, abs=1e-12)
        assert m.auc_new == pytest.approx((1 - q) / 2, abs=1e-12)
    # repeats: the test pairs seen in training, validation or an earlier test batch
    known, test = split.train | split.val, np.flatnonzero(split.test)
    seen = set(zip(stream.src[known].tolist(), stream.dst[known].tolist()))
    repeats = []
    for first in range(0, len(test), 200):
        rows = test[first : first + 200]
        pairs = list(zip(stream.src[rows].tolist(), stream.dst[rows].tolist()))
        repeats += [p in seen for p in pairs]
        seen |= set(pairs)
    assert m.repeats == pytest.approx(np.mean(repeats), abs=1e-12)
    constant = memory_split(lambda s, d, t: np.zeros(len(s)), split)
    assert constant.memory_auc == 0.5 and constant.auc_new == constant.auc_repeat == 0.5
    learned = memory_split(LinkModel(stream.nodes, seed=0), split)
    assert 0.5 < learned.memory_auc < 1 and learned.auc_repeat > learned.auc_new


def test_bad_arguments_are_refused_with_a_clear_message(split, tmp_path, capsys):
    with pytest.raises(ValueError, match="nodes=0 must be >= 1"):
        LinkModel(0)
    with pytest.raises(ValueError, match="online_steps=-1 must be >= 0"):
        LinkModel(10, online_steps=-1)
    with pytest.raises(ValueError, match="unknown_rate=1"):
        LinkModel(10, unknown_rate=1)
    with pytest.raises(ValueError, match="need two equal"):
        LinkModel(10).fit(np.array([0, 1]), np.array([1]))
    with pytest.raises(ValueError, match=">= 0"):
        LinkModel(10).fit(np.array([-1]), np.array([1]))
    with pytest.raises(ValueError, match="no destination below nodes=10"):
        LinkModel(10).fit(np.array([1]), np.array([12]))
    with pytest.raises(ValueError, match="negatives 'hard'"):
        memory_split(EdgeBank(), split, "hard")
    with pytest.raises(ValueError, match="mode 'lru'"):
        memory_split(EdgeBank(), split, memory="lru")
    stream = edge_stream(nodes=20, edges=400, recurrence=0.8, seed=0)
    path = tmp_path / "edges.txt"
    path.write_text("".join(f"{s} {d} {t}\n" for s, d, t in zip(stream.src, stream.dst, stream.t)))
    assert main(["edgebank", str(path), "--epochs", "2"]) == 2  # a learned option, no learned
    assert capsys.readouterr().err == "interp: error: --epochs: only with --scorer learned\n"
    assert main(["edgebank", str(path), "--scorer", "learned", "--dim", "0"]) == 2
    assert capsys.readouterr().err == "interp: error: --dim 0 must be >= 1\n"
    args = ["--negatives", "random", "--memory", "unlimited", "--no-progress"]
    assert main(["edgebank", str(path), "--scorer", "learned", "--epochs", "2", *args]) == 0
    out = capsys.readouterr().out
    assert "random      learned   -" in out and "memory split" in out

"""EdgeBank (Poursafaei et al. 2022): how far memory alone goes in dynamic link prediction. The
memory baseline, DGB's negative samplers and evaluation, for any scorer beside it (`LinkModel`,
a small learned one), and `memory_split`: how much of a scorer's score is memory.

Examples:
    >>> from interp.studies import edgebank
    >>> from interp.tasks.edges import chronological_split, edge_stream
    >>> split = chronological_split(edge_stream(nodes=30, edges=1500, recurrence=0.95, seed=1))
    >>> round(edgebank.evaluate(edgebank.EdgeBank(), split).auc, 2)    # a stream that repeats
    0.95
"""

from interp.studies.edgebank.evaluation import (
    NEGATIVES,
    LinkScores,
    MemorySplit,
    evaluate,
    memory_split,
    sample_negatives,
)
from interp.studies.edgebank.learned import LinkModel
from interp.studies.edgebank.memory import MODES, EdgeBank, pair_keys
from interp.studies.edgebank.ranking import hist_rnd_negatives, mrr, one_vs_many

__all__ = [
    "hist_rnd_negatives",
    "mrr",
    "one_vs_many",
    "EdgeBank",
    "LinkModel",
    "LinkScores",
    "MemorySplit",
    "MODES",
    "NEGATIVES",
    "evaluate",
    "memory_split",
    "pair_keys",
    "sample_negatives",
]

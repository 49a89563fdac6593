"""Solution of ex01: NDCG@k with binary gain and a log2(rank + 1) discount."""
import math


def ndcg_at_k(ranked_items: list, relevant: set, k: int) -> float:
    """NDCG@k = DCG@k / IDCG@k; 0.0 when there is no relevant item."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 1)
              for rank, item in enumerate(ranked_items[:k], start=1) if item in relevant)
    idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    return dcg / idcg

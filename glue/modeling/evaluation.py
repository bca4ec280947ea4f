"""Metrics, the decision threshold and block-bootstrap confidence intervals.

Owns the honest-evaluation rules: PR-AUC is always reported with the positive rate beside it (a random
model scores the positive rate); the threshold is chosen on validation (max F1) and only applied to
test; confidence intervals come from a circular block bootstrap over time (blocks of `block_s` seconds of
all products together) because neighbouring seconds are strongly dependent.
"""

from __future__ import annotations

import numpy as np


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """PR-AUC as average precision (step-wise, ties grouped), equal to sklearn's."""
    order = np.argsort(-p, kind="stable")
    return _ap_sorted(y[order], p[order])


def _ap_sorted(y_sorted: np.ndarray, p_sorted: np.ndarray) -> float:
    n_pos = y_sorted.sum()
    if n_pos == 0:
        return float("nan")
    # Distinct score boundaries: precision/recall are evaluated after each tie group.
    last_of_group = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    tp = np.cumsum(y_sorted)[last_of_group]
    k = np.flatnonzero(last_of_group) + 1
    precision = tp / k
    recall_step = np.diff(np.r_[0, tp]) / n_pos
    return float(np.sum(precision * recall_step))


def choose_threshold(y_val: np.ndarray, p_val: np.ndarray) -> tuple[float, float]:
    """The probability threshold with the highest F1 on validation, and that F1."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y_val, p_val)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return (float(thresholds[best]) if len(thresholds) else 0.5), float(f1[best])


def metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """PR-AUC with the positive rate, F1/precision/recall at the threshold, ROC-AUC, Brier."""
    from sklearn.metrics import brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score

    pred = p >= threshold
    both = len(np.unique(y)) == 2
    return {
        "n": len(y),
        "positive_rate": float(np.mean(y)) if len(y) else float("nan"),
        "pr_auc": average_precision(y, p),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
        "alert_rate": float(np.mean(pred)) if len(y) else float("nan"),
        "threshold": float(threshold),
    }


def block_bootstrap(y: np.ndarray, scores: dict[str, np.ndarray], second_at: np.ndarray, block_s: int,
                    n_boot: int, seed: int, pairs: list[tuple[str, str]],
                    level: float = 0.95) -> dict[str, dict[str, float]]:
    """Circular block bootstrap of PR-AUC per model and of PR-AUC differences (a - b) for `pairs`.

    Rows are grouped by their second; a resample concatenates ceil(T / block_s) runs of `block_s`
    consecutive distinct seconds, each starting at a uniformly drawn second and wrapping from the last
    second to the first (Politis & Romano's circular blocks). Every second is then equally likely to be
    drawn; with plain moving blocks (starts in [0, T - block_s]) the first and last seconds are drawn
    less often, and on a short fold whose spikes sit near an edge the percentile interval could miss
    its own point estimate. Returns, per model name and per "a-b", the point estimate, the
    (1 - level)/2 and (1 + level)/2 percentiles (2.5/97.5 % by default), and the share of resamples
    with a difference <= 0.
    """
    rng = np.random.default_rng(seed)
    t = second_at.astype("datetime64[s]").astype(np.int64)
    order = np.argsort(t, kind="stable")
    t_sorted = t[order]
    uniq, first = np.unique(t_sorted, return_index=True)
    bounds = np.r_[first, len(t_sorted)]
    n_sec = len(uniq)
    block = max(1, min(block_s, n_sec))
    draws: dict[str, list[float]] = {name: [] for name in scores}
    diffs: dict[str, list[float]] = {f"{a}-{b}": [] for a, b in pairs}
    for _ in range(n_boot):
        sec_idx = circular_blocks(rng, n_sec, block)
        lo, hi = bounds[sec_idx], bounds[sec_idx + 1]
        lengths = hi - lo
        rows = order[np.repeat(lo - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())]
        yb = y[rows]
        if yb.min() == yb.max():
            continue
        ap = {name: average_precision(yb, s[rows]) for name, s in scores.items()}
        for name, value in ap.items():
            draws[name].append(value)
        for a, b in pairs:
            diffs[f"{a}-{b}"].append(ap[a] - ap[b])
    out: dict[str, dict[str, float]] = {}
    for name, values in draws.items():
        out[name] = _summary(average_precision(y, scores[name]), values, level)
    for a, b in pairs:
        key = f"{a}-{b}"
        point = average_precision(y, scores[a]) - average_precision(y, scores[b])
        out[key] = _summary(point, diffs[key], level)
        out[key]["p_le_0"] = float(np.mean(np.asarray(diffs[key]) <= 0)) if diffs[key] else float("nan")
    return out


def short_block_s(second_at: np.ndarray, block_s: int) -> int:
    """The bootstrap block for a stretch of seconds: `block_s`, or a tenth of a short stretch (at least
    30 s); with a block as long as the stretch every resample would be the stretch itself and the
    interval would collapse to a point."""
    return max(30, min(block_s, len(np.unique(second_at)) // 10))


def circular_blocks(rng: np.random.Generator, n: int, block: int) -> np.ndarray:
    """One circular-block resample of the indices 0..n-1: ceil(n / block) runs of `block` consecutive
    indices from uniform starts, wrapping past n - 1 to 0, cut to n indices."""
    n_blocks = int(np.ceil(n / block))
    starts = rng.integers(0, n, n_blocks)
    return ((starts[:, None] + np.arange(block)[None, :]) % n).ravel()[:n]


def _summary(point: float, values: list[float], level: float = 0.95) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return {"estimate": point, "ci_low": float("nan"), "ci_high": float("nan"), "n_boot": 0}
    tail = 50.0 * (1.0 - level)
    return {"estimate": point, "ci_low": float(np.percentile(arr, tail)),
            "ci_high": float(np.percentile(arr, 100.0 - tail)), "n_boot": len(arr)}


def skill_p_value(y: np.ndarray, p: np.ndarray, n_perm: int, seed: int, min_shift: int = 300) -> float:
    """Permutation p-value of PR-AUC under "no relation", keeping the time structure.

    The null shifts the labels circularly against the scores by a random offset of at least
    `min_shift` rows, so label autocorrelation survives (an i.i.d. shuffle would make the null too narrow
    for time series). p = (1 + #{null >= observed}) / (1 + n_perm).
    """
    n = len(y)
    if n < 2 * min_shift or y.min() == y.max():
        return 1.0
    order = np.argsort(-p, kind="stable")
    p_sorted = p[order]
    observed = _ap_sorted(y[order], p_sorted)
    rng = np.random.default_rng(seed)
    shifts = rng.integers(min_shift, n - min_shift, n_perm)
    exceed = sum(_ap_sorted(np.roll(y, int(k))[order], p_sorted) >= observed for k in shifts)
    return float((1 + exceed) / (1 + n_perm))

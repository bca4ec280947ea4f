"""The model inputs: one documented transform from feature rows to what every model sees.

Owns the rule "stationary and scale-free, no price levels, no duplicates" (docs/models.md, "Model
inputs"). `ModelInputs` is the first step of every fitted pipeline (HAR, logistic regression,
boosting), so training, `glue infer` and `glue score` feed it the same raw feature columns and it
computes, per row and from that row only (no state across rows, so live == replay):

- `log_rv_<w>s` = ln(rv_<w>s_bps + 1e-4), every window w: volatility is roughly log-normal; the log is
  scale-free across products and regimes;
- `log_rv_ratio_<a>_<b>s` = ln(rv_a + 1e-4) - ln(rv_b + 1e-4), consecutive windows a < b: short
  against long volatility, the mean-reversion signal;
- `log_<p>_per_s_<w>s` = ln(1 + p per second), p in ticks/trades/updates: intensity (counts become rates);
- `log_spread_bps` = ln(spread_bps + 1e-3): the spread in bps, heavy-tailed; `log_spread_rel_<w>s` =
  ln(spread_bps + 1e-3) - ln(spread_mean_<w>s_bps + 1e-3): the spread against its own recent mean (the
  mean in bps itself is 0.01 / price on a one-increment market: a price level, measured on the demo);
- `imbalance`, `imbalance_mean_<w>s`: as in the features, already in [-1, 1];
- `ret_over_rv_<w>s` = ret_<w>s_bps / rv_<w>s_bps (0 when rv = 0): the signed move in units of its
  own volatility;
- `log_quote_age_s` = ln(1 + quote_age_s): stale quotes precede jumps;
- `frac_ret_<w>s` = n_ret_<w>s / w of the longest window: warm-up and missing returns;
- `log_since_gap_s` = ln of the shortest window w whose has_gap_<w>s is true (1 s for has_gap_1s),
  600 when none: the seconds since the last gap, bounded by the window (a row holds no more).

Never used: price levels (`mid_price`, `last_price`, `spread_abs`, `best_*`), quantities in base
currency (`best_*_qty`, `volume_*`): they are not stationary and differ by product. At fit time (on
the training window only) an input that is constant or all missing there is dropped, and of two inputs
correlated above `MAX_ABS_CORR` the later is dropped, as is an input correlated above it with
`mid_price`/`last_price` (a level in disguise); all are logged, so the matrix a model sees never holds an
exact duplicate or a price level. NaN stays NaN (the models' imputers fill it with training medians).
"""

from __future__ import annotations

import itertools
import logging
import re

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from glue.errors import DataError

log = logging.getLogger("glue.modeling.inputs")

RV_EPS_BPS = 1e-4  # below one price increment of BTC (~0.0015 bps): a quiet window stays distinguishable
SPREAD_EPS_BPS = 1e-3
MAX_ABS_CORR = 0.999
NO_GAP_S = 600.0
CORR_SAMPLE_ROWS = 50_000
# Columns that are levels or base-currency quantities: never an input.
LEVEL_PATTERNS = (r"mid_price", r"last_price", r"spread_abs", r"best_bid.*", r"best_ask.*", r"price.*",
                  r"volume_.*", r".*_qty")
GROUPS = ("log_rv", "rv_ratio", "intensity", "spread", "imbalance", "ret", "quote_age", "warmup", "gap")
HAR_GROUPS = ("log_rv",)


def _windows(columns: list[str], pattern: str) -> dict[int, int]:
    """window seconds -> column index for columns matching `pattern` (one group: the window)."""
    out = {}
    for j, name in enumerate(columns):
        m = re.fullmatch(pattern, name)
        if m:
            out[int(m.group(1))] = j
    return dict(sorted(out.items()))


def is_level(name: str) -> bool:
    """A price level or base-currency quantity (never a model input)."""
    return any(re.fullmatch(p, name) for p in LEVEL_PATTERNS)


def recipe(columns: list[str], groups: tuple[str, ...] = GROUPS) -> list[tuple]:
    """The candidate inputs for these raw columns: (name, op, source indices, constant)."""
    idx = {c: j for j, c in enumerate(columns)}
    rv = _windows(columns, r"rv_(\d+)s_bps")
    if not rv:
        raise DataError("the features have no rv_<w>s_bps column", "train on the pipeline's feature rows")
    out: list[tuple] = []
    if "log_rv" in groups:
        out += [(f"log_rv_{w}s", "log", (j,), RV_EPS_BPS) for w, j in rv.items()]
    if "rv_ratio" in groups:
        ws = list(rv)
        out += [(f"log_rv_ratio_{a}_{b}s", "logratio", (rv[a], rv[b]), RV_EPS_BPS) for a, b in itertools.pairwise(ws)]
    if "intensity" in groups:
        for p in ("ticks", "trades", "updates"):
            per_s = _windows(columns, rf"{p}_per_s_(\d+)s")
            counts = _windows(columns, rf"{p}_(\d+)s")
            for w in sorted(set(per_s) | set(counts)):
                if w in per_s:
                    out.append((f"log_{p}_per_s_{w}s", "log1p", (per_s[w],), 1.0))
                else:
                    out.append((f"log_{p}_per_s_{w}s", "log1p", (counts[w],), 1.0 / w))
    if "spread" in groups:
        if "spread_bps" in idx:
            out.append(("log_spread_bps", "log", (idx["spread_bps"],), SPREAD_EPS_BPS))
        # not the mean spread in bps itself: on a one-increment market it is 0.01 / price (a price level)
        if "spread_bps" in idx:
            for w, j in _windows(columns, r"spread_mean_(\d+)s_bps").items():
                out.append((f"log_spread_rel_{w}s", "logratio", (idx["spread_bps"], j), SPREAD_EPS_BPS))
    if "imbalance" in groups:
        if "imbalance" in idx:
            out.append(("imbalance", "id", (idx["imbalance"],), 0.0))
        for w, j in _windows(columns, r"imbalance_mean_(\d+)s").items():
            out.append((f"imbalance_mean_{w}s", "id", (j,), 0.0))
    if "ret" in groups:
        for w, j in _windows(columns, r"ret_(\d+)s_bps").items():
            if w in rv:
                out.append((f"ret_over_rv_{w}s", "div", (j, rv[w]), 0.0))
    if "quote_age" in groups and "quote_age_s" in idx:
        out.append(("log_quote_age_s", "log1p", (idx["quote_age_s"],), 1.0))
    if "warmup" in groups:
        n_ret = _windows(columns, r"n_ret_(\d+)s")
        if n_ret:
            w = max(n_ret)
            out.append((f"frac_ret_{w}s", "scale", (n_ret[w],), 1.0 / w))
    if "gap" in groups:
        gaps = _windows(columns, r"has_gap_(\d+)s")
        if gaps:
            out.append(("log_since_gap_s", "gap_age", tuple(gaps.values()), tuple(float(w) for w in gaps)))
    return out


def _apply(X: np.ndarray, op: str, src: tuple[int, ...], const) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if op == "log":
            return np.log(np.maximum(X[:, src[0]], 0.0) + const)
        if op == "logratio":
            return np.log(np.maximum(X[:, src[0]], 0.0) + const) - np.log(np.maximum(X[:, src[1]], 0.0) + const)
        if op == "log1p":
            return np.log1p(np.maximum(X[:, src[0]], 0.0) * const)
        if op == "id":
            return X[:, src[0]].copy()
        if op == "scale":
            return X[:, src[0]] * const
        if op == "div":
            num, den = X[:, src[0]], X[:, src[1]]
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(np.isnan(den), np.nan, 0.0))
        if op == "gap_age":
            age = np.full(len(X), NO_GAP_S)
            # shortest window first wins: walk from the longest down
            for j, w in sorted(zip(src, const, strict=True), key=lambda jw: -jw[1]):
                age = np.where(X[:, j] > 0, w, age)
            return np.log(age)
    raise ValueError(f"unknown input op {op}")


class ModelInputs(TransformerMixin, BaseEstimator):
    """Raw feature matrix (columns named by `columns`) -> the model inputs of `recipe` (see the module doc).

    `fit` (training window only) drops inputs that are constant/all-missing or near-duplicates there.
    """

    def __init__(self, columns: list[str] | None = None, groups: tuple[str, ...] = GROUPS) -> None:
        self.columns = columns
        self.groups = groups

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> ModelInputs:
        cols = list(self.columns or [])
        if X.shape[1] != len(cols):
            raise DataError(f"ModelInputs got {X.shape[1]} columns, expected {len(cols)}",
                            "pass the raw feature columns in order")
        candidates = recipe(cols, tuple(self.groups))
        Z = np.column_stack([_apply(X, op, src, c) for _, op, src, c in candidates])
        keep: list[int] = []
        dropped: list[str] = []
        finite = np.isfinite(Z)
        for k in range(Z.shape[1]):
            col = Z[finite[:, k], k]
            if len(col) == 0 or np.all(col == col[0]):
                dropped.append(f"{candidates[k][0]} (constant or all missing in training)")
                continue
            keep.append(k)
        # near-duplicates, on a deterministic sample of rows where both are finite
        step = max(1, len(Z) // CORR_SAMPLE_ROWS)
        S, F = Z[::step], finite[::step]
        levels = [(c, X[::step, j]) for j, c in enumerate(cols) if c in ("mid_price", "last_price")]
        final: list[int] = []
        for k in keep:
            dup = None
            for name, lv in levels:  # an input that is a price level in disguise (e.g. 0.01 / price)
                both = F[:, k] & np.isfinite(lv)
                if both.sum() > 2 and S[both, k].std() > 0 and lv[both].std() > 0 \
                        and abs(np.corrcoef(S[both, k], lv[both])[0, 1]) > MAX_ABS_CORR:
                    dup = name
                    break
            for k0 in final:
                both = F[:, k] & F[:, k0]
                if both.sum() > 2:
                    a, b = S[both, k], S[both, k0]
                    if a.std() > 0 and b.std() > 0 and abs(np.corrcoef(a, b)[0, 1]) > MAX_ABS_CORR:
                        dup = candidates[k0][0]
                        break
            if dup:
                dropped.append(f"{candidates[k][0]} (|corr| > {MAX_ABS_CORR} with {dup})")
            else:
                final.append(k)
        if not final:
            raise DataError("no usable model input: every input is constant or missing in the training window",
                            "train on a longer or livelier stretch of data")
        if dropped:
            log.info("inputs: dropped %d of %d: %s", len(dropped), len(candidates), "; ".join(dropped))
        self.recipe_ = [candidates[k] for k in final]
        self.names_ = [r[0] for r in self.recipe_]
        self.dropped_ = dropped
        self.n_features_in_ = len(cols)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([_apply(np.asarray(X, dtype=np.float64), op, src, c) for _, op, src, c in self.recipe_])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.names_, dtype=object)

"""Time-based train / validation / test splits with an embargo, and walk-forward folds.

Owns the leakage rule for splitting: rows are never shuffled; boundaries fall on quantiles of the
distinct labelled seconds; between consecutive splits an embargo of at least the label horizon drops
rows, so no label window of an earlier split overlaps a label window of a later one (a label at t
reads data in (t, t+horizon]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from glue.errors import ConfigError, DataError

TRAIN, VAL, TEST, EMBARGO = "train", "val", "test", "embargo"


@dataclass(frozen=True)
class TimeSplit:
    """Boundaries (naive UTC): train < train_end_at; val in [val_start_at, val_end_at); test >= test_start_at."""

    train_end_at: pd.Timestamp
    val_start_at: pd.Timestamp
    val_end_at: pd.Timestamp
    test_start_at: pd.Timestamp
    embargo_s: int

    def as_dict(self) -> dict[str, str | int]:
        return {"train_end_at": str(self.train_end_at), "val_start_at": str(self.val_start_at),
                "val_end_at": str(self.val_end_at), "test_start_at": str(self.test_start_at),
                "embargo_s": self.embargo_s}


def check_embargo(embargo_s: int, horizon_s: int) -> None:
    if embargo_s < horizon_s:
        raise ConfigError(f"embargo {embargo_s} s is shorter than the label horizon {horizon_s} s",
                          "set model.embargo_s >= features.horizon_s")


def time_split(second_at: pd.Series, train_frac: float, val_frac: float, embargo_s: int,
               horizon_s: int) -> TimeSplit:
    """Boundaries at the `train_frac` and `train_frac + val_frac` quantiles of the distinct seconds."""
    check_embargo(embargo_s, horizon_s)
    if not (0 < train_frac < 1 and 0 < val_frac < 1 and train_frac + val_frac < 1):
        raise ConfigError(f"bad split fractions train={train_frac} val={val_frac}",
                          "use 0 < train_frac, val_frac and train_frac + val_frac < 1")
    seconds = np.unique(second_at.to_numpy(dtype="datetime64[us]"))
    if len(seconds) < 10:
        raise DataError(f"only {len(seconds)} labelled seconds", "need at least several minutes of features")
    b1 = pd.Timestamp(seconds[int(len(seconds) * train_frac)])
    b2 = pd.Timestamp(seconds[int(len(seconds) * (train_frac + val_frac))])
    gap = pd.Timedelta(seconds=embargo_s)
    return TimeSplit(train_end_at=b1, val_start_at=b1 + gap, val_end_at=b2, test_start_at=b2 + gap,
                     embargo_s=embargo_s)


def assign(second_at: pd.Series, split: TimeSplit) -> np.ndarray:
    """Per row: 'train', 'val', 'test' or 'embargo'."""
    t = second_at.to_numpy(dtype="datetime64[us]")
    out = np.full(len(t), EMBARGO, dtype=object)
    out[t < split.train_end_at.to_datetime64()] = TRAIN
    out[(t >= split.val_start_at.to_datetime64()) & (t < split.val_end_at.to_datetime64())] = VAL
    out[t >= split.test_start_at.to_datetime64()] = TEST
    return out


def walk_forward_folds(second_at: pd.Series, n_folds: int, embargo_s: int,
                       min_train_frac: float = 0.4) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds inside one window: fit on [start, b_k), validate on [b_k + embargo, b_{k+1}).

    Returns boolean masks over the rows of `second_at`.
    """
    t = second_at.to_numpy(dtype="datetime64[us]")
    seconds = np.unique(t)
    edges = np.linspace(min_train_frac, 1.0, n_folds + 1)
    gap = np.timedelta64(embargo_s, "s")
    folds = []
    for k in range(n_folds):
        b_fit = seconds[min(int(len(seconds) * edges[k]), len(seconds) - 1)]
        b_end = seconds[min(int(len(seconds) * edges[k + 1]), len(seconds) - 1)]
        fit = t < b_fit
        val = (t >= b_fit + gap) & ((t < b_end) if k < n_folds - 1 else np.ones(len(t), dtype=bool))
        if fit.any() and val.any():
            folds.append((fit, val))
    return folds

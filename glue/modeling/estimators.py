"""The candidate models: three baselines and the ML models, all scored as probabilities.

Owns how each model is built, fitted and calibrated:
- persistence baseline: the recent realised volatility itself (`rv_60s_bps`, the window matching the
  label horizon) ranks the rows; nothing is fitted on it, only a Platt scaling on validation turns the
  score into a probability (monotone, so its PR-AUC is the raw rule's);
- HAR baseline (Corsi 2009, as a classifier): a logistic regression on log realised volatility at every
  window the features hold (10/30/60/300 s today; 900/1800 s when a SQL version adds them), fitted on
  train; the strong simple rule the volatility literature uses;
- z-score rule: (rv_short - mean) / std with the mean and std per product from the training window
  (reported, never registered);
- logistic regression (model inputs -> impute + standardise + L2 logistic; statistics from train);
- histogram gradient boosting on the same inputs, kept only if it beats the logistic regression.
Every fitted pipeline starts with `glue.modeling.inputs.ModelInputs` (the one transform from feature
rows to model inputs), so it is scored on the raw feature columns. Models are fitted on train and
calibrated (sigmoid) on validation with the fitted model frozen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from glue.modeling.inputs import HAR_GROUPS, ModelInputs

LOGREG_GRID = ({"C": 0.01}, {"C": 1.0})
HGB_GRID = ({"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 200},
            {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 31, "min_samples_leaf": 500})


def _rv_columns(columns: list[str]) -> list[tuple[int, str]]:
    found = []
    for name in columns:
        m = re.fullmatch(r"rv_(\d+)s_bps", name)
        if m:
            found.append((int(m.group(1)), name))
    return sorted(found)


def persistence_column(columns: list[str], horizon_s: int = 60) -> str:
    """The realised-volatility column whose window is closest to the label horizon."""
    rv = _rv_columns(columns)
    if not rv:
        return columns[0]
    return min(rv, key=lambda wn: (abs(wn[0] - horizon_s), wn[0]))[1]


def zscore_column(columns: list[str]) -> str:
    """The shortest realised-volatility window (the most reactive signal)."""
    rv = _rv_columns(columns)
    return rv[0][1] if rv else columns[0]


def build_persistence(columns: list[str], column: str):
    """Select one column (NULL -> 0) and Platt-scale it; `fit` only on validation data."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    select = ColumnTransformer([("score", SimpleImputer(strategy="constant", fill_value=0.0),
                                 [columns.index(column)])], remainder="drop")
    return Pipeline([("select", select), ("platt", LogisticRegression(C=1e6, max_iter=1000))])


def build_logreg(C: float, seed: int, columns: list[str] | None = None):
    """Logistic regression; on the model inputs of `columns` when given (else on the matrix as it is)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [("inputs", ModelInputs(columns))] if columns is not None else []
    return Pipeline([*steps, ("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("logreg", LogisticRegression(C=C, max_iter=2000, random_state=seed))])


def build_har(columns: list[str], seed: int):
    """HAR: logistic regression on log realised volatility at every window (inputs group `log_rv`)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("inputs", ModelInputs(columns, HAR_GROUPS)), ("impute", SimpleImputer(strategy="median")),
                     ("scale", StandardScaler()), ("logreg", LogisticRegression(C=1.0, max_iter=2000,
                                                                                random_state=seed))])


def build_hgb(params: dict, seed: int, columns: list[str] | None = None, n_rows: int | None = None):
    """Histogram gradient boosting on the model inputs; leaves no larger than a tenth of the rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    params = dict(params)
    if n_rows is not None:  # a small training window cannot carry 500-row leaves
        params["min_samples_leaf"] = max(5, min(params.get("min_samples_leaf", 20), n_rows // 10))
    hgb = HistGradientBoostingClassifier(early_stopping=False, random_state=seed, **params)
    if columns is None:
        return hgb
    return Pipeline([("inputs", ModelInputs(columns)), ("hgb", hgb)])


def calibrate(fitted, X_val: np.ndarray, y_val: np.ndarray):
    """Sigmoid calibration on validation; the fitted model is frozen (never refitted on validation)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    return CalibratedClassifierCV(FrozenEstimator(fitted), method="sigmoid").fit(X_val, y_val)


def platt(scores_val: np.ndarray, y_val: np.ndarray):
    """A 1-D Platt scaling of a rule's score, fitted on validation."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1e6, max_iter=1000).fit(np.nan_to_num(scores_val).reshape(-1, 1), y_val)


@dataclass
class ZScoreRule:
    """z = (x - mean[product]) / std[product], statistics from the training window only."""

    column: str
    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    calibrator: object | None = None

    def fit(self, train: pd.DataFrame) -> ZScoreRule:
        x = train[self.column].astype(float)
        grouped = x.groupby(train["product_id"], sort=True)
        self.means = {str(k): float(v) for k, v in grouped.mean().items()}
        self.stds = {str(k): float(v) if v > 0 else 1.0 for k, v in grouped.std(ddof=0).fillna(1.0).items()}
        self.means["*"], self.stds["*"] = float(x.mean()), float(x.std(ddof=0) or 1.0)
        return self

    def z(self, df: pd.DataFrame) -> np.ndarray:
        mean = df["product_id"].map(lambda p: self.means.get(p, self.means["*"])).to_numpy(dtype=float)
        std = df["product_id"].map(lambda p: self.stds.get(p, self.stds["*"])).to_numpy(dtype=float)
        return np.nan_to_num((df[self.column].to_numpy(dtype=float) - mean) / std)

    def calibrate(self, val: pd.DataFrame, y_val: np.ndarray) -> ZScoreRule:
        self.calibrator = platt(self.z(val), y_val)
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        return self.calibrator.predict_proba(self.z(df).reshape(-1, 1))[:, 1]


def coefficient_table(X_train: np.ndarray, y_train: np.ndarray, columns: list[str], max_rows: int = 50_000,
                      seed: int = 42) -> pd.DataFrame | None:
    """statsmodels Logit on standardised training inputs: coef, std err, z, p, 95 % CI per input.

    `X_train`/`columns` are the model inputs (`ModelInputs.transform` and `names_`), not raw features."""
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(X_train), size=min(max_rows, len(X_train)), replace=False))
    X = X_train[idx]
    med = np.nanmedian(X, axis=0)
    X = np.where(np.isnan(X), med, X)
    std = X.std(axis=0)
    keep = std > 0
    Xs = (X[:, keep] - X[:, keep].mean(axis=0)) / std[keep]
    import warnings

    try:
        with warnings.catch_warnings():
            # Collinear volatility windows can slow convergence; the table is descriptive, not a fit we score.
            warnings.simplefilter("ignore")
            res = sm.Logit(y_train[idx], sm.add_constant(Xs)).fit(disp=0, maxiter=200)
    except Exception:  # singular designs (collinear windows) are reported as "no table", not a crash
        try:
            res = sm.Logit(y_train[idx], sm.add_constant(Xs)).fit_regularized(disp=0, alpha=1e-4)
        except Exception:
            return None
    names = ["const", *[c for c, k in zip(columns, keep, strict=True) if k]]
    ci = np.asarray(res.conf_int())
    return pd.DataFrame({"feature": names, "coef": res.params, "std_err": res.bse, "z": res.tvalues,
                         "p_value": res.pvalues, "ci_low": ci[:, 0], "ci_high": ci[:, 1]})

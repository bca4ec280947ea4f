"""Figures for MLflow runs, the PDF report and the model card (matplotlib `Figure`, no pyplot state).

Owns the look of: PR curves of all models on one plot (positive rate as the no-skill line),
calibration curves, confusion matrices at the chosen threshold, and the F1-vs-threshold curve on
validation with the chosen threshold marked.
"""

from __future__ import annotations

import numpy as np


def _figure(w: float = 6.0, h: float = 4.5):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def pr_curves(y: np.ndarray, probs: dict[str, np.ndarray], title: str = "Precision-recall on test"):
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig = _figure()
    ax = fig.add_subplot()
    for name, p in probs.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.step(recall, precision, where="post", label=f"{name} (PR-AUC {average_precision_score(y, p):.3f})")
    ax.axhline(float(np.mean(y)), color="grey", ls="--", label=f"positive rate {np.mean(y):.3f}")
    ax.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(fontsize=8)
    return fig


def calibration(y: np.ndarray, probs: dict[str, np.ndarray], title: str = "Calibration on test", bins: int = 10):
    from sklearn.calibration import calibration_curve

    fig = _figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", ls="--", label="perfect")
    for name, p in probs.items():
        frac, mean = calibration_curve(y, p, n_bins=bins, strategy="quantile")
        ax.plot(mean, frac, marker="o", ms=3, label=name)
    ax.set(xlabel="predicted probability", ylabel="observed frequency", title=title)
    ax.legend(fontsize=8)
    return fig


def confusion(y: np.ndarray, p: np.ndarray, threshold: float, title: str):
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y, p >= threshold, labels=[0, 1])
    fig = _figure(4.5, 4.0)
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:,}", ha="center", va="center", color="black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["no spike", "spike"], yticklabels=["no spike", "spike"],
           xlabel="predicted", ylabel="actual", title=f"{title}\nthreshold {threshold:.3f}")
    return fig


def threshold_curve(y_val: np.ndarray, p_val: np.ndarray, threshold: float, title: str):
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y_val, p_val)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(thresholds, f1[:-1], label="F1")
    ax.plot(thresholds, precision[:-1], label="precision", alpha=0.6)
    ax.plot(thresholds, recall[:-1], label="recall", alpha=0.6)
    ax.axvline(threshold, color="red", ls="--", label=f"chosen {threshold:.3f}")
    ax.set(xlabel="probability threshold", ylabel="score", title=title, xlim=(0, 1))
    ax.legend(fontsize=8)
    return fig


def sigma_percentiles(sigma: np.ndarray, tau: float, quantile: float, title: str = "sigma_future percentiles"):
    """The percentile plot used to choose tau."""
    qs = np.linspace(0, 100, 201)
    values = np.nanpercentile(sigma, qs)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(qs, values)
    ax.axvline(quantile * 100, color="red", ls="--", label=f"q={quantile:.2f}: tau={tau:.3f} bps")
    ax.set(xlabel="percentile", ylabel="sigma_future_bps", title=title, yscale="log")
    ax.legend(fontsize=8)
    return fig

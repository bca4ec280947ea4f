"""`glue evaluate`: grouped, time-ordered evaluation across real captures (the judge of the model).

Owns the cross-capture protocol (docs/models.md, "Evaluation across captures"):

1. Every capture set under `--captures` (one directory each) is imported (`glue import` logic, into a
   temporary directory), replayed through the current SQL version, and joined with its labels.
2. Folds: **leave-one-capture-out** — each capture is tested once with every other capture as training
   data; a **long** capture (more than `LONG_CAPTURE_S` labelled seconds) is instead cut into
   `LONG_BLOCKS` blocks of whole sessions (a session ends where the grid has a hole > 60 s), and block b
   is tested with the other captures plus the blocks before b (session-blocked walk-forward).
3. Inside a fold's training data, the last `VAL_FRAC` of each group's seconds (after an embargo of the
   label horizon) is the validation set: it calibrates every model (sigmoid, fitted model frozen) and
   chooses the champion exactly as `glue train` does (an ML model only if it shows skill and beats the
   best baseline; never a constant). tau (assignment label) and k (relative label) come from the
   fit part only. With `choose_on="captures"` the champion is chosen instead on **held-out training
   groups**: each training group is predicted by the same protocol fitted on the other training groups
   (the test group is never read), and the ML pick must beat the best baseline on those pooled
   out-of-group predictions (`held_out_choice`); calibration stays on the tails.
4. Per fold and pooled over folds: PR-AUC beside the positive rate for the champion, HAR and
   persistence (and the ML models), precision at an alert budget (the top `budget` of each fold's
   seconds), and the PR-AUC lift of the champion over HAR and over persistence with a circular block
   bootstrap interval (`level`, blocks of `bootstrap_block_s` seconds).

Outputs: an MLflow run per label (SQLite store of the settings), `reports/model_eval.md` rendered to
`reports/model_eval.pdf` (glue.pdfdoc), and the per-capture table in the model card between the markers
`CARD_BEGIN`/`CARD_END`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from glue.config import Settings
from glue.errors import DataError
from glue.modeling import data as mdata
from glue.modeling import labels
from glue.modeling.evaluation import average_precision, block_bootstrap, short_block_s
from glue.modeling.fitting import choose_model, clears_zero, fit_models, lift_interval, pick_baseline, pick_ml
from glue.modeling.forecast import LabelSpec
from glue.modeling.labels import ASSIGNMENT, LABELS, REF_S, RELATIVE, apply_k, fit_k, relative_ratio
from glue.modeling.results import (
    CARD_BEGIN,
    CARD_END,
    FORECAST,
    HAR,
    HGB,
    LOGREG,
    ML_MODELS,
    PERSISTENCE,
    ModelResult,
)
from glue.modeling.splits import TEST, TRAIN, VAL
from glue.modeling.tau import apply_label, fit_tau

log = logging.getLogger("glue.evaluate")

LONG_CAPTURE_S = 7200
LONG_BLOCKS = 3
SESSION_GAP_S = 60
VAL_FRAC = 0.25
TAIL, CAPTURES = "tail", "captures"
CHOOSE_ON = (TAIL, CAPTURES)  # where the champion is chosen: the validation tails, or held-out training groups
SHOWN = ("chosen", HAR, PERSISTENCE, LOGREG, HGB, FORECAST)
RATIO = labels.RATIO  # bookkeeping column: never a feature (data.LABEL_COLUMNS)


@dataclass
class Fold:
    name: str
    test: str  # capture (or capture block) tested
    rows: int = 0
    positive_rate: float = float("nan")
    chosen: str = ""
    choice: str = ""  # how the champion was chosen, when not on the validation tails
    pr_auc: dict[str, float] = field(default_factory=dict)
    precision_at_budget: dict[str, float] = field(default_factory=dict)
    lift: dict[str, dict[str, float]] = field(default_factory=dict)  # vs HAR / persistence
    # each ML model's own lift over HAR / persistence ({model: {baseline: stats}}), whether chosen or not
    ml_lift: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    skipped: str = ""


@dataclass
class LabelEval:
    label: str
    folds: list[Fold]
    pooled: Fold
    threshold_note: str = ""


@dataclass
class EvalResult:
    captures: dict[str, int]  # capture -> labelled rows (assignment label)
    labels: dict[str, LabelEval]
    budget: float
    level: float
    command: str
    choose_on: str = TAIL
    report_path: str = ""
    markdown: str = ""
    run_ids: dict[str, str] = field(default_factory=dict)


def load_capture(path: Path, settings: Settings, tmp: Path) -> pd.DataFrame:
    """Import one capture set, replay it, and return feature rows with sigma_future_bps."""
    from glue.importer import import_captures
    from glue.replay import replay

    out = tmp / path.name
    summary = import_captures([str(path)], str(out / "archive"), boundary_gap_s=settings.ingest.watchdog_s)
    labels = out / "labels.parquet"
    table, _ = replay(summary.archive_files, None, settings.features, labels_out=str(labels))
    if table is None or table.num_rows == 0:  # None only with keep_table=False
        raise DataError(f"{path.name}: replay gave no feature rows", "check the capture with `glue import`")
    df = mdata.join_labels(mdata.normalise(table.to_pandas(), str(path)), str(labels))
    df["capture"] = path.name
    return df


def sessions(df: pd.DataFrame, gap_s: int = SESSION_GAP_S) -> np.ndarray:
    """Session number per row: a new session where the labelled seconds jump by more than 2 * gap_s.

    Read off the labelled rows (no label within a horizon of a gap), so it works on every SQL version: up to
    v4 the grid keeps rows through a hole (flagged, unlabelled), from v5 it has none there (its own
    `session_start_at` also splits at short holes, which this rule keeps inside one block); an unlabelled
    row belongs to the session of the next labelled second.
    """
    t = df["second_at"].to_numpy(dtype="datetime64[s]").astype(np.int64)
    lt = np.sort(t[df["sigma_future_bps"].notna().to_numpy()])
    if len(lt) == 0:
        return np.zeros(len(t), dtype=np.int64)
    starts = lt[1:][np.diff(lt) > 2 * gap_s]
    return np.searchsorted(starts, t, side="right")


def groups(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Test groups: each short capture whole; a long capture as LONG_BLOCKS blocks of whole sessions."""
    out: dict[str, pd.DataFrame] = {}
    for name, df in frames.items():
        labelled = int(df["sigma_future_bps"].notna().sum())
        if labelled <= LONG_CAPTURE_S:
            out[name] = df
            continue
        sess = sessions(df)
        sizes = pd.Series(df["sigma_future_bps"].notna().to_numpy()).groupby(sess).sum()
        cum = sizes.cumsum() / sizes.sum()
        block_of = {s: min(LONG_BLOCKS - 1, int(c * LONG_BLOCKS - 1e-9)) for s, c in cum.items()}
        blocks = np.array([block_of[s] for s in sess])
        for b in range(LONG_BLOCKS):
            out[f"{name}[{b + 1}/{LONG_BLOCKS}]"] = df[blocks == b]
    return out


def _base(name: str) -> str:
    return name.split("[", 1)[0]


def _block(name: str) -> int:
    return int(name.split("[", 1)[1].split("/", 1)[0]) if "[" in name else 0


def fold_training(name: str, all_groups: dict[str, pd.DataFrame]) -> list[str]:
    """Training groups of a test group: other captures, plus the earlier blocks of its own capture."""
    base, block = _base(name), _block(name)
    return [g for g in all_groups if _base(g) != base or (_block(g) and _block(g) < block)]


def split_train_val(frames: list[pd.DataFrame], embargo_s: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last VAL_FRAC of each group's labelled seconds (after an embargo) validates; the rest fits."""
    fit, val = [], []
    for df in frames:
        t = df["second_at"].to_numpy(dtype="datetime64[us]")
        if len(t) == 0:
            continue
        cut = np.sort(t)[int(len(t) * (1 - VAL_FRAC))]
        fit.append(df[t < cut - np.timedelta64(embargo_s, "s")])
        val.append(df[t >= cut])
    return pd.concat(fit, ignore_index=True), pd.concat(val, ignore_index=True)


def _labels(label: str, fit: pd.DataFrame, others: list[pd.DataFrame], settings: Settings, ref_s: int):
    """y for fit and each other frame (rows without this label dropped), and the fitted threshold."""
    m = settings.model
    frames = [fit, *others]
    if label == ASSIGNMENT:
        frames = [f[f["sigma_future_bps"].notna()] for f in frames]
        tau = fit_tau(frames[0], m.tau_quantile, m.tau_per_product)
        return frames, [apply_label(f, tau) for f in frames], tau
    # the ratio was computed on each whole capture (its reference reads the rows before t, which a
    # validation tail or a later block would not hold on its own)
    ratios = [f[RATIO].to_numpy(dtype=float) for f in frames]
    frames = [f[np.isfinite(r)] for f, r in zip(frames, ratios, strict=True)]
    ratios = [r[np.isfinite(r)] for r in ratios]
    k = fit_k(ratios[0], m.tau_quantile)
    return frames, [apply_k(r, k) for r in ratios], {"k": k}


def precision_at_budget(y: np.ndarray, p: np.ndarray, budget: float) -> float:
    """Precision among the top `budget` share of rows by score (at least one row)."""
    if len(y) == 0:
        return float("nan")
    n = max(1, int(np.ceil(budget * len(y))))
    top = np.argsort(-p, kind="stable")[:n]
    return float(y[top].mean())


def _score_fold(name: str, y: np.ndarray, scores: dict[str, np.ndarray], second_at: np.ndarray,
                settings: Settings, budget: float, level: float, n_boot: int, chosen: str) -> Fold:
    fold = Fold(name=name, test=name, rows=len(y), positive_rate=float(y.mean()) if len(y) else float("nan"),
                chosen=chosen)
    for key, p in scores.items():
        fold.pr_auc[key] = average_precision(y, p)
        fold.precision_at_budget[key] = precision_at_budget(y, p, budget)
    if y.min() != y.max():
        ml = [m for m in ML_MODELS if m in scores and np.isfinite(scores[m]).all()]
        boot = _bootstrap(y, scores, second_at, settings, n_boot, level, ml)
        for base in (HAR, PERSISTENCE):
            fold.lift[base] = boot[f"chosen-{base}"]
        fold.ml_lift = {m: {base: boot[f"{m}-{base}"] for base in (HAR, PERSISTENCE)} for m in ml}
    return fold


def _bootstrap(y, scores, second_at, settings, n_boot, level, ml: list[str] | tuple[str, ...] = ()):
    pairs = [(a, base) for a in ("chosen", *ml) for base in (HAR, PERSISTENCE)]
    sub = {k: scores[k] for k in ("chosen", HAR, PERSISTENCE, *ml)}
    block = short_block_s(second_at, settings.model.bootstrap_block_s)  # a short capture: a tenth of it
    return block_bootstrap(y, sub, second_at, block, n_boot, settings.model.seed, pairs, level=level)


def fit_fold(label: str, train_names: list[str], test: pd.DataFrame, all_groups: dict[str, pd.DataFrame],
             settings: Settings, columns: list[str],
             ref_s: int) -> tuple[dict[str, ModelResult], np.ndarray, np.ndarray]:
    """Fit every model on `train_names` (tails validate) and score `test`: models, y_test, test seconds.

    Raises DataError when the fold cannot be fitted or `test` has no row with this label."""
    horizon = settings.features.horizon_s
    fit, val = split_train_val([all_groups[g] for g in train_names], max(settings.model.embargo_s, horizon))
    (fit_l, val_l, test_l), (y_fit, y_val, y_test), thr = _labels(label, fit, [val, test], settings, ref_s)
    if len(test_l) == 0:
        raise DataError("no labelled rows in the test capture", "")
    data = pd.concat([fit_l, val_l, test_l], ignore_index=True)
    part = np.array([TRAIN] * len(fit_l) + [VAL] * len(val_l) + [TEST] * len(test_l), dtype=object)
    y = np.concatenate([y_fit, y_val, y_test])
    spec = LabelSpec(label, {} if label == RELATIVE else thr, thr.get("k"), ref_s)
    models = fit_models(data, part, y, columns, settings, {}, select=False, label_spec=spec)
    return models, y_test, test_l["second_at"].to_numpy(dtype="datetime64[us]")


def end_to_end(times: list[np.ndarray], block_s: int) -> np.ndarray:
    """All folds' seconds, each fold shifted so the folds lie end to end in time, ten blocks apart.

    No second is then shared between two folds (a product's rows of one second stay one bootstrap
    unit); a block can still run on from one fold into the next, as it wraps from the last to the first.
    """
    out, offset = [], np.timedelta64(0, "s")
    for t in times:
        t0 = t - t.min() + offset
        offset = t0.max() + np.timedelta64(10 * block_s, "s")
        out.append(t0)
    return np.concatenate(out)


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Only errors from these loggers for the duration (the many inner fits would bury the fold's lines)."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def held_out_choice(label: str, train_names: list[str], all_groups: dict[str, pd.DataFrame], settings: Settings,
                    columns: list[str], ref_s: int) -> tuple[str | None, str]:
    """The champion chosen on held-out training groups, and a line saying how; None when it cannot be.

    Each training group is scored by models fitted on the other training groups (the same protocol as
    a fold; the fold's test group is never read). On the pooled out-of-group scores: the best baseline
    and the best ML model by PR-AUC; the ML model is chosen only if its PR-AUC lift over that baseline
    has its circular-block-bootstrap interval (the level adjusted for picking the best of the ML
    models, as in `glue train`) above 0. The time-shift skill gate of `glue train` is not applied: an
    interval above 0 on groups the models never saw is the stricter test. Needs at least two scored groups.
    """
    if len(train_names) < 2:  # nothing to fit when the only training group is held out
        return None, f"{len(train_names)} training group(s): chosen on the validation tails"
    ys: list[np.ndarray] = []
    ts: list[np.ndarray] = []
    scored: list[dict[str, np.ndarray]] = []  # per held-out group: model -> its scores
    for g in train_names:
        try:
            with _quiet("glue.train", "glue.modeling.inputs"):  # this function's return line says the outcome
                models, y, t = fit_fold(label, [h for h in train_names if h != g], all_groups[g], all_groups,
                                        settings, columns, ref_s)
        except DataError as exc:
            log.info("evaluate %s: held-out group %s not scored: %s", label, g, str(exc).split(" — ")[0])
            continue
        ys.append(y)
        ts.append(t)
        scored.append({name: r.p_test for name, r in models.items()})
    if len(ys) < 2:
        return None, f"{len(ys)} held-out training group(s) scored; chosen on the validation tails"
    y = np.concatenate(ys)
    # a model that some group could not fit is left out of the pick (its pooled scores would have holes)
    pooled = {n: np.concatenate([g[n] for g in scored]) for n in scored[0] if all(n in g for g in scored)}
    pr_auc = {n: average_precision(y, p) for n, p in pooled.items()}
    log.info("evaluate %s: PR-AUC on %d held-out training groups (positive rate %.3f): %s", label, len(ys),
             y.mean(), ", ".join(f"{n} {v:.3f}" for n, v in pr_auc.items()))
    base = pick_baseline(pr_auc)
    ml = pick_ml(pr_auc)
    if ml is None or y.min() == y.max():
        return base, f"{base} on {len(ys)} held-out training groups (no ML model to compare)"
    t = end_to_end(ts, settings.model.bootstrap_block_s)
    b = lift_interval(y, pooled[ml], pooled[base], t, settings, sum(n in ML_MODELS for n in pooled))
    chosen = ml if clears_zero(b) else base
    return chosen, (f"{ml} vs {base} on {len(ys)} held-out training groups: {pr_auc[ml]:.3f} vs {pr_auc[base]:.3f}, "
                    f"lift {b['estimate']:+.3f} [{b['ci_low']:+.3f}, {b['ci_high']:+.3f}] ({100 * b['level']:.1f} %)")


def evaluate_label(label: str, all_groups: dict[str, pd.DataFrame], settings: Settings, columns: list[str],
                   budget: float, level: float, n_boot: int, ref_s: int, choose_on: str = TAIL) -> LabelEval:
    """Every fold of one label, then the pooled figures over all folds' test rows."""
    folds: list[Fold] = []
    pooled_y: list[np.ndarray] = []
    pooled_t: list[np.ndarray] = []
    pooled: dict[str, list[np.ndarray]] = {k: [] for k in SHOWN}
    for name, test in all_groups.items():
        train_names = fold_training(name, all_groups)
        try:
            # a test capture with one class stays in: its per-fold PR-AUC is undefined (n/a), but its
            # seconds count in the pooled figures (a quiet capture where nothing fires is evidence too)
            models, y_test, t = fit_fold(label, train_names, test, all_groups, settings, columns, ref_s)
        except DataError as exc:
            log.warning("evaluate %s: fold %s skipped: %s", label, name, exc)
            folds.append(Fold(name=name, test=name, skipped=str(exc).split(" — ")[0].split(" (use")[0]))
            continue
        chosen, choice = choose_model(models), ""
        if choose_on == CAPTURES:
            held_out, choice = held_out_choice(label, train_names, all_groups, settings, columns, ref_s)
            chosen = held_out or chosen
            log.info("evaluate %s: %s: champion %s (%s)", label, name, chosen, choice)
        nan = np.full(len(y_test), np.nan)
        scores = {"chosen": models[chosen].p_test,
                  **{k: models[k].p_test if k in models else nan for k in (HAR, PERSISTENCE, *ML_MODELS)}}
        fold = _score_fold(name, y_test, scores, t, settings, budget, level, n_boot, chosen)
        fold.choice = choice
        log.info("evaluate %s: %s: %d rows, positive rate %.3f, chosen %s, PR-AUC %s", label, name, fold.rows,
                 fold.positive_rate, chosen, ", ".join(f"{k} {v:.3f}" for k, v in fold.pr_auc.items()))
        folds.append(fold)
        pooled_y.append(y_test)
        pooled_t.append(t)
        for k in SHOWN:
            pooled[k].append(scores[k])
    if not pooled_y:
        return LabelEval(label, folds, Fold(name="pooled", test="all", skipped="no fold could be scored"))
    y = np.concatenate(pooled_y)
    scores = {k: np.concatenate(v) for k, v in pooled.items()}
    # per-fold alert budgets pooled: the top share of each fold is what an operator sees
    t_pooled = end_to_end(pooled_t, settings.model.bootstrap_block_s)
    pooled_fold = _score_fold("pooled", y, scores, t_pooled, settings, budget, level, n_boot, "per fold")
    for k in SHOWN:
        hits = sum(f.precision_at_budget[k] * max(1, int(np.ceil(budget * f.rows))) for f in folds if not f.skipped)
        alerts = sum(max(1, int(np.ceil(budget * f.rows))) for f in folds if not f.skipped)
        pooled_fold.precision_at_budget[k] = hits / alerts
    return LabelEval(label, folds, pooled_fold)


def markdown_table(ev: LabelEval, budget: float, level: float) -> str:
    pct = f"{100 * budget:g} %"
    lv = f"{100 * level:g} %"
    lines = [f"| fold (test) | rows | pos. rate | chosen | PR-AUC chosen | HAR | persistence | logreg | hgb | "
             f"forecast | prec@{pct} chosen | HAR | persistence | lift vs HAR [{lv}] | lift vs persistence [{lv}] |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for f in [*ev.folds, ev.pooled]:
        if f.skipped:
            lines.append(f"| {f.name} | | | skipped: {f.skipped} | | | | | | | | | | | |")
            continue

        def lift(base: str, f: Fold = f) -> str:
            b = f.lift.get(base)
            if not b:
                return "n/a"
            return f"{b['estimate']:+.3f} [{b['ci_low']:+.3f}, {b['ci_high']:+.3f}]"

        pr, pb = f.pr_auc, f.precision_at_budget
        name = f"**{f.name}**" if f.name == "pooled" else f.name
        lines.append(f"| {name} | {f.rows:,} | {f.positive_rate:.3f} | {f.chosen} | {pr['chosen']:.3f} | "
                     f"{pr[HAR]:.3f} | {pr[PERSISTENCE]:.3f} | {pr[LOGREG]:.3f} | {pr[HGB]:.3f} | "
                     f"{pr[FORECAST]:.3f} | "
                     f"{pb['chosen']:.3f} | {pb[HAR]:.3f} | {pb[PERSISTENCE]:.3f} | {lift(HAR)} | "
                     f"{lift(PERSISTENCE)} |")
    return "\n".join(lines)


def verdict_lines(ev: LabelEval, level: float) -> list[str]:
    p = ev.pooled
    if p.skipped:
        return [f"- {ev.label}: no fold could be scored ({p.skipped})."]
    lv = f"{100 * level:g} %"
    out = [f"- {ev.label} label: pooled PR-AUC {p.pr_auc['chosen']:.3f} at a positive rate of "
           f"{p.positive_rate:.3f} ({p.pr_auc['chosen'] / p.positive_rate:.1f}x); HAR {p.pr_auc[HAR]:.3f}, "
           f"persistence {p.pr_auc[PERSISTENCE]:.3f}."]
    for base in (HAR, PERSISTENCE):
        b = p.lift.get(base)
        if b:
            word = ("above 0: the chosen models beat" if b["ci_low"] > 0 else
                    "below 0: the chosen models are WORSE than" if b["ci_high"] < 0 else
                    "includes 0: the chosen models do NOT clearly beat")
            out.append(f"  Lift over {base} {b['estimate']:+.3f}, {lv} interval [{b['ci_low']:+.3f}, "
                       f"{b['ci_high']:+.3f}] {word} {base}.")
    for m, lifts in p.ml_lift.items():
        out.append(f"  {m} on its own (chosen or not): PR-AUC {p.pr_auc[m]:.3f}; "
                   + "; ".join(f"lift over {base} {b['estimate']:+.3f} [{b['ci_low']:+.3f}, {b['ci_high']:+.3f}]"
                               for base, b in lifts.items()) + ".")
    chosen = [f.chosen for f in ev.folds if not f.skipped]
    ml = sum(c in ML_MODELS for c in chosen)
    out.append(f"  Champion per fold: {ml} of {len(chosen)} folds chose an ML model "
               f"({', '.join(f'{f.name}: {f.chosen}' for f in ev.folds if not f.skipped)}).")
    out += [f"  {f.name}: {f.choice}." for f in ev.folds if f.choice]
    return out


def report_markdown(result: EvalResult, ref_s: int) -> str:
    lines = ["# Model evaluation across real captures", "",
             f"*Generated by `{result.command}`; do not edit by hand.*", "",
             "Leave-one-capture-out over the shared Coinbase captures; the long capture is cut into "
             f"{LONG_BLOCKS} blocks of whole sessions, each tested after training on the other captures and "
             "its earlier blocks. Validation (the last quarter of each training group) calibrates every "
             + ("model and picks the champion; " if result.choose_on == TAIL else
                "model; the champion is picked on held-out training groups (each scored by the models fitted "
                "on the other training groups; the ML pick must beat the best baseline there, its lift's "
                "interval adjusted for the pick above 0); ")
             + "tau and k come from the fit part only. "
             f"Alert budget: the top {100 * result.budget:g} % of each fold's seconds. Lift = PR-AUC of "
             f"the fold's champion minus the baseline's, {100 * result.level:g} % circular block bootstrap "
             "interval (300 s blocks; a tenth of the fold, at least 30 s, when shorter).", "",
             "Captures (labelled seconds, assignment label): "
             + ", ".join(f"{k} {v:,}" for k, v in result.captures.items()) + ".", ""]
    for label, ev in result.labels.items():
        lines += [f"## {label.capitalize()} label", ""]
        if label == ASSIGNMENT:
            lines += ["sigma_future_bps >= tau[product], tau the 0.90 quantile of the fit part.", ""]
        else:
            lines += [f"sigma_future_bps / ref_vol_bps >= k, ref_vol the RMS 1-s return over the trailing {ref_s} s "
                      "(at least 90 % of its returns valid), k the 0.90 quantile of the fit part.", ""]
        lines += [markdown_table(ev, result.budget, result.level), "", *verdict_lines(ev, result.level), ""]
    return "\n".join(lines) + "\n"


def write_card_section(card: Path, markdown: str) -> None:
    """Replace (or append) the evaluate section of the model card, between CARD_BEGIN and CARD_END."""
    body = markdown.replace("# Model evaluation across real captures", "## Evaluation across real captures", 1)
    body = body.replace("\n## ", "\n### ").replace("### Evaluation across", "## Evaluation across", 1)
    block = f"{CARD_BEGIN}\n{body.rstrip()}\n{CARD_END}\n"
    text = card.read_text() if card.is_file() else ""
    if CARD_BEGIN in text and CARD_END in text:
        head, rest = text.split(CARD_BEGIN, 1)
        text = head + block + rest.split(CARD_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip() + ("\n\n" if text else "") + block
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(text)


def _log_mlflow(settings: Settings, result: EvalResult) -> None:
    import mlflow

    from glue.modeling.tracking import git_revision, setup

    exp_id = setup(settings)
    for label, ev in result.labels.items():
        with mlflow.start_run(experiment_id=exp_id, run_name=f"evaluate-{label}") as run:
            mlflow.set_tags({"kind": "evaluate", "label": label, "git_revision": git_revision(),
                             "command": result.command})
            mlflow.log_params({"budget": result.budget, "level": result.level, "long_blocks": LONG_BLOCKS,
                               "captures": ",".join(result.captures), "choose_on": result.choose_on})
            metrics: dict[str, float] = {}
            for f in [*ev.folds, ev.pooled]:
                if f.skipped:
                    continue
                key = "pooled" if f.name == "pooled" else f.name.replace("[", "_").replace("/", "of").rstrip("]")
                key = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in key)
                metrics[f"{key}.positive_rate"] = f.positive_rate
                for k, v in f.pr_auc.items():
                    metrics[f"{key}.pr_auc.{k}"] = v
                for k, v in f.precision_at_budget.items():
                    metrics[f"{key}.precision_at_budget.{k}"] = v
                for m, lifts in f.ml_lift.items():
                    for base, b in lifts.items():
                        for stat in ("estimate", "ci_low", "ci_high"):
                            metrics[f"{key}.{m}.lift_vs_{base}.{stat}"] = b[stat]
                for base, b in f.lift.items():
                    metrics[f"{key}.lift_vs_{base}"] = b["estimate"]
                    metrics[f"{key}.lift_vs_{base}.ci_low"] = b["ci_low"]
                    metrics[f"{key}.lift_vs_{base}.ci_high"] = b["ci_high"]
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
            mlflow.log_text(markdown_table(ev, result.budget, result.level), f"evaluate_{label}.md")
            result.run_ids[label] = run.info.run_id


def evaluate(settings: Settings, captures: str | Path, *, labels: tuple[str, ...] = LABELS,
             budget: float = 0.05, level: float = 0.90, n_boot: int = 300, ref_s: int = REF_S,
             report: str | Path | None = None, model_card: str | Path | None = None, log_mlflow: bool = True,
             command: str = "", choose_on: str = TAIL) -> EvalResult:
    """Run the cross-capture evaluation (module docstring) and write its outputs."""
    if choose_on not in CHOOSE_ON:
        raise DataError(f"unknown champion choice {choose_on!r}", f"use {' or '.join(CHOOSE_ON)}")
    root = Path(captures)
    dirs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not dirs:
        raise DataError(f"no capture directories under {root}", "pass the directory holding one folder per capture")
    unknown = [x for x in labels if x not in LABELS]
    if unknown:
        raise DataError(f"unknown label(s) {unknown}", f"use {' or '.join(LABELS)}")
    frames: dict[str, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory(prefix="glue-evaluate-") as tmp:
        for d in dirs:
            log.info("evaluate: importing and replaying %s ...", d.name)
            frames[d.name] = load_capture(d, settings, Path(tmp))
    columns = [c for c in mdata.feature_columns(pd.concat(frames.values(), ignore_index=True))
               if c != "capture"]
    if RELATIVE in labels:
        for df in frames.values():
            df[RATIO] = relative_ratio(df, ref_s)
    all_groups = groups(frames)
    result = EvalResult(captures={k: int(v["sigma_future_bps"].notna().sum()) for k, v in frames.items()},
                        labels={}, budget=budget, level=level,
                        command=command or f"glue evaluate --captures {captures}", choose_on=choose_on)
    for label in labels:
        result.labels[label] = evaluate_label(label, all_groups, settings, columns, budget, level, n_boot, ref_s,
                                              choose_on)
    result.markdown = report_markdown(result, ref_s)
    if report:
        from glue.pdfdoc import markdown_to_pdf

        out = Path(report)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(result.markdown)
        result.report_path = str(markdown_to_pdf(result.markdown, out, title="Model evaluation across captures"))
    if model_card:
        write_card_section(Path(model_card), result.markdown)
    if log_mlflow:
        _log_mlflow(settings, result)
    return result

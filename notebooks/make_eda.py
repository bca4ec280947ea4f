"""Writes notebooks/eda.ipynb (the notebook's source of truth; re-run after editing the cells here).

`python notebooks/make_eda.py` -> notebooks/eda.ipynb, without outputs. The test suite executes it on
project-generated data by setting GLUE_EDA_FEATURES (and optionally GLUE_EDA_LABELS).
"""

from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", "# Exploratory data analysis: 1-second features and the volatility label\n\n"
           "Reads features through the project's code (`glue.modeling`), so the notebook sees exactly what "
           "training sees. Set `GLUE_EDA_FEATURES` (a features Parquet file or directory with "
           "`sigma_future_bps`, or features plus `GLUE_EDA_LABELS` from `glue replay --labels-out`)."),
    ("code", "# Parameters (the test suite sets the environment variables)\n"
             "import os\n"
             "FEATURES = os.environ.get('GLUE_EDA_FEATURES', '../data/processed/features.parquet')\n"
             "LABELS = os.environ.get('GLUE_EDA_LABELS', '')\n"
             "TAU_QUANTILE = float(os.environ.get('GLUE_EDA_TAU_QUANTILE', '0.90'))"),
    ("code", "%matplotlib inline\n"
             "import matplotlib.pyplot as plt\n"
             "import numpy as np\n"
             "import pandas as pd\n"
             "from IPython.display import display\n\n"
             "from glue.config import Settings\n"
             "from glue.modeling import data as mdata\n"
             "from glue.modeling import plots\n"
             "from glue.modeling.splits import assign, time_split\n"
             "from glue.modeling.tau import apply_label, fit_tau\n\n"
             "settings = Settings()\n"
             "df = mdata.read_features(FEATURES)\n"
             "if LABELS:\n"
             "    df = mdata.join_labels(df, LABELS)\n"
             "features = mdata.feature_columns(df)\n"
             "print(f'{len(df):,} rows, products {sorted(df.product_id.unique())}, '\n"
             "      f'{df.second_at.min()} .. {df.second_at.max()}, SQL version {mdata.sql_version_of(df)!r}')\n"
             "print(f'{len(features)} features:', ', '.join(features))"),
    ("md", "## Distributions\nVolatility features are heavy-tailed: the histograms use a log scale on x "
           "(zeros are shown at the left edge)."),
    ("code", "display(df[features + ['sigma_future_bps']].describe(percentiles=[.5, .9, .99]).T)\n"
             "numeric = [c for c in features if df[c].dtype != bool]\n"
             "ncols = 4\n"
             "nrows = int(np.ceil(len(numeric) / ncols))\n"
             "fig, axes = plt.subplots(nrows, ncols, figsize=(14, 2.8 * nrows), squeeze=False)\n"
             "for ax, col in zip(axes.ravel(), numeric):\n"
             "    for product, g in df.groupby('product_id'):\n"
             "        x = g[col].dropna().abs()\n"
             "        x = x[x > 0]\n"
             "        if len(x):\n"
             "            ax.hist(np.log10(x), bins=60, alpha=0.5, label=product)\n"
             "    ax.set_title(col, fontsize=9)\n"
             "    ax.set_xlabel('log10 |value|', fontsize=8)\n"
             "for ax in axes.ravel()[len(numeric):]:\n"
             "    ax.axis('off')\n"
             "axes[0, 0].legend(fontsize=7)\n"
             "fig.tight_layout()\n"
             "plt.show()"),
    ("md", "## Choosing tau: percentiles of sigma_future (training window only)\n"
           "The label is `sigma_future_bps >= tau`; tau is a quantile of `sigma_future_bps` in the **training "
           "window** (the same time split the training job uses), per product."),
    ("code", "labelled = df[df.sigma_future_bps.notna()].reset_index(drop=True)\n"
             "m = settings.model\n"
             "split = time_split(labelled.second_at, m.train_frac, m.val_frac, m.embargo_s, "
             "settings.features.horizon_s)\n"
             "part = assign(labelled.second_at, split)\n"
             "train = labelled[part == 'train']\n"
             "tau = fit_tau(train, TAU_QUANTILE, per_product=True)\n"
             "print('tau (bps):', {k: round(v, 4) for k, v in tau.items()})\n"
             "for product, g in train.groupby('product_id'):\n"
             "    fig = plots.sigma_percentiles(g.sigma_future_bps.to_numpy(), tau[product], TAU_QUANTILE,\n"
             "                                  f'{product}: sigma_future_bps percentiles (train)')\n"
             "    display(fig)"),
    ("code", "labelled['label'] = apply_label(labelled, tau)\n"
             "labelled['split'] = part\n"
             "rates = labelled.groupby(['split', 'product_id'])['label'].agg(['size', 'mean']).rename(\n"
             "    columns={'size': 'rows', 'mean': 'positive_rate'})\n"
             "display(rates)\n"
             "print('Positive rates per split: tau is fitted on train; a regime change moves the rate.')"),
    ("md", "## The regime-relative label: percentiles of sigma_future / trailing reference (train only)\n"
           "`ratio = sigma_future_bps / ref_vol_bps`, ref_vol the RMS 1-s return over the trailing 600 s "
           "(data at or before t; no label where fewer than 90 % of its returns are valid); spike when "
           "`ratio >= k`, k the same quantile of the ratio in the training window (`glue/modeling/labels.py`)."),
    ("code", "from glue.errors import DataError\n"
             "from glue.modeling import labels as lab\n"
             "try:\n"
             "    ratio = lab.relative_ratio(labelled, 600)\n"
             "except DataError as exc:\n"
             "    ratio = None\n"
             "    print('no relative label on these features:', exc)\n"
             "if ratio is not None and np.isfinite(ratio[part == 'train']).any():\n"
             "    k = lab.fit_k(ratio[part == 'train'], TAU_QUANTILE)\n"
             "    fig = plots.sigma_percentiles(ratio[(part == 'train') & np.isfinite(ratio)], k, TAU_QUANTILE,\n"
             "                                  'sigma_future / trailing 600 s reference: percentiles (train)')\n"
             "    display(fig)\n"
             "    ok = np.isfinite(ratio)\n"
             "    rel = pd.DataFrame({'split': part[ok], 'product_id': labelled.product_id[ok],\n"
             "                        'label': lab.apply_k(ratio[ok], k)})\n"
             "    display(rel.groupby(['split', 'product_id'])['label'].agg(['size', 'mean']).rename(\n"
             "        columns={'size': 'rows', 'mean': 'positive_rate'}))\n"
             "    print(f'k = {k:.3f}; rows without a complete reference: {int((~ok).sum()):,}')"),
    ("md", "## Feature-label relationships\nPositive rate per decile of each feature (train window), and the "
           "Spearman correlation of each feature with `sigma_future_bps`."),
    ("code", "tr = labelled[labelled.split == 'train']\n"
             "corr = tr[features + ['sigma_future_bps']].astype(float).corr(method='spearman')['sigma_future_bps']\n"
             "display(corr.drop('sigma_future_bps').sort_values(ascending=False).to_frame('spearman'))\n"
             "fig, axes = plt.subplots(nrows, ncols, figsize=(14, 2.6 * nrows), squeeze=False)\n"
             "for ax, col in zip(axes.ravel(), numeric):\n"
             "    x = tr[col].astype(float)\n"
             "    bins = pd.qcut(x.rank(method='first'), 10, labels=False)\n"
             "    ax.plot(range(10), tr.groupby(bins)['label'].mean().reindex(range(10)).to_numpy(), marker='o')\n"
             "    ax.axhline(tr.label.mean(), color='grey', ls='--')\n"
             "    ax.set_title(col, fontsize=9)\n"
             "    ax.set_xlabel('decile', fontsize=8)\n"
             "for ax in axes.ravel()[len(numeric):]:\n"
             "    ax.axis('off')\n"
             "fig.tight_layout()\n"
             "plt.show()"),
    ("md", "## Gaps\nHoles in the 1-second grid, gap flags and rows without a label (horizon incomplete or "
           "crossing a gap)."),
    ("code", "rows = []\n"
             "for product, g in df.groupby('product_id'):\n"
             "    steps = g.second_at.sort_values().diff().dt.total_seconds().dropna()\n"
             "    rows.append({'product_id': product, 'rows': len(g), 'holes_gt_1s': int((steps > 1).sum()),\n"
             "                 'longest_hole_s': float(steps.max()) if len(steps) else 0.0,\n"
             "                 'unlabelled_rows': int(g.sigma_future_bps.isna().sum()),\n"
             "                 **{c: float(g[c].mean()) for c in features if c.startswith('has_gap_')}})\n"
             "display(pd.DataFrame(rows))\n"
             "fig, ax = plt.subplots(figsize=(12, 3))\n"
             "for product, g in df.groupby('product_id'):\n"
             "    ax.plot(g.second_at, g.sigma_future_bps, lw=0.5, label=product)\n"
             "ax.set_ylabel('sigma_future_bps')\n"
             "ax.legend()\n"
             "ax.set_title('sigma_future over time (breaks = gaps or unlabelled rows)')\n"
             "plt.show()"),
]


def build() -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    out = Path(__file__).with_name("eda.ipynb")
    nbf.write(build(), out)
    print(f"wrote {out}")

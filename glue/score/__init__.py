"""Live scoring: feature rows from Kafka in, one prediction per product and second out.

`run_score` runs a `ScoreLoop`, a consumer-group member on `ticks.features` (contracts section 5). Per poll
batch it decodes the rows, checks each against the model (columns, SQL version), scores the good ones in one
call, produces one prediction per row to `ticks.predictions` (key = product, value = contracts section 6),
waits for the broker's acknowledgement, and only then commits the consumed offsets (glue.sinks, "score"):
delivery is at-least-once and nothing consumed is lost. Latency is measured per row from its arrival in this
process to its prediction being acknowledged. One module per job:

* `job`: `ScoreJob` (what a run consumes, when it stops) and `ScoreSummary` (what it did);
* `model`: loading the scorer and its metadata (`ModelInfo`);
* `rows`: checking a row against the model, scoring a batch, the prediction message (pure);
* `sinks`: `PredictionSink` (at-least-once, acknowledged per batch); dead letters: `glue.sinks.DeadLetterSink`;
* `loop`: `ScoreLoop` and `run_score`.
"""

from glue.score.job import ScoreJob, ScoreSummary, percentile
from glue.score.loop import ScoreLoop, run_score
from glue.score.model import ModelInfo, default_model_source, load_model, model_info
from glue.score.rows import KEY_COLUMNS, BadRow, decode_row, prediction_message, score_rows
from glue.score.sinks import PredictionSink

__all__ = [
    "KEY_COLUMNS",
    "BadRow",
    "ModelInfo",
    "PredictionSink",
    "ScoreJob",
    "ScoreLoop",
    "ScoreSummary",
    "decode_row",
    "default_model_source",
    "load_model",
    "model_info",
    "percentile",
    "prediction_message",
    "run_score",
    "score_rows",
]

"""Live featurizer: `ticks.raw` -> DuckDB warehouse -> final feature rows -> `ticks.features` + Parquet.

The SQL (what a feature is, when a second is final) belongs to `glue.warehouse`; this package only moves
records in and rows out, in the commit order documented in `glue.sinks` that makes a kill -9 at any point
harmless. One module per job:

* `job`: `FeaturizeJob` (what a run consumes and writes) and `FeaturizeStats` (what it did);
* `decode`: a `ticks.raw` message back to its `Record`, or a dead-letter reason;
* `rows`: feature rows as `ticks.features` messages, minus rows a previous owner published;
* `sinks`: `ParquetPartSink` (part files, temp file + rename) and `TransactionalKafkaSink` (rows and the
  group's offsets in one Kafka transaction);
* `export`: pending export batches out of DuckDB into both sinks, and the check whether Kafka has one;
* `crash`: the kill -9 test hook (`--crash-at`);
* `loop`: `FeaturizeLoop` (the consumer-group member and its rebalance callbacks) and `run_featurize`.

On start and on every partition assignment the consumer seeks to the offsets stored in DuckDB (not Kafka's
committed ones, which trail them), then re-exports pending batches. A partition this warehouse holds no
offsets for is rebuilt from the start of the topic; if the group has committed offsets for it (a previous
owner published its rows), the rows final below that offset are not published again
(`Warehouse.begin_takeover` / `export_floors`). Guarantees: DuckDB and Parquet exactly once; Kafka exactly
once for `read_committed` consumers (the librdkafka default), also when a partition moves between instances.
"""

from glue.featurize.crash import CrashHook
from glue.featurize.decode import BadRecord, decode
from glue.featurize.export import Exporter, part_name
from glue.featurize.job import FeaturizeJob, FeaturizeStats
from glue.featurize.loop import FeaturizeLoop, instance_id, run_featurize
from glue.featurize.rows import feature_messages, without_published
from glue.featurize.sinks import ParquetPartSink, TransactionalKafkaSink

__all__ = [
    "BadRecord",
    "CrashHook",
    "Exporter",
    "FeaturizeJob",
    "FeaturizeLoop",
    "FeaturizeStats",
    "ParquetPartSink",
    "TransactionalKafkaSink",
    "decode",
    "feature_messages",
    "instance_id",
    "part_name",
    "run_featurize",
    "without_published",
]

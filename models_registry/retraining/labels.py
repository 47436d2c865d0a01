"""The training-labels file: what people and the world said about production predictions.

One row per production prediction of the model with an outcome or a person's approval or
override recorded since the active version went live. The rows are read in chunks and written
by the compliance exports' streaming Parquet writer (``audit.exports.writers``: the same
column types, zstd, one row group per chunk), so a large model's labels never sit in memory at
once. The file is written under a temporary name and renamed, so a reader (or a retried task)
never sees half a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Case, CharField, F, Q, TextField, Value, When
from django.db.models.functions import Cast, Coalesce

from audit.exports.columns import Column
from audit.exports.writers import ParquetWriter, file_sha256
from models_registry.models import MLModel

BATCH_SIZE = 5000
HUMAN_LABEL_ACTIONS = ("approve", "override")

LABEL_COLUMNS: tuple[Column, ...] = (
    Column("external_id", "string", False, "The prediction's external id."),
    Column("version", "string", False, "The version that made the prediction."),
    Column("received_at", "timestamp", False, "When the prediction arrived."),
    Column("inputs_json", "json", False, "The inputs, as sent (JSON text)."),
    Column("model_output_json", "json", True, "The model's output (JSON text)."),
    Column("confidence", "float", False, "The model's confidence."),
    Column("label_json", "json", True, "The label to train on (JSON text)."),
    Column("label_source", "string", False, "outcome or decision."),
    Column("decision_action", "string", True, "approve or override, if a person decided."),
    Column("decision_output_json", "json", True, "The decision's final output (JSON text)."),
    Column("decided_by", "string", True, "Who decided, comma-separated usernames."),
    Column("decided_at", "timestamp", True, "When the decision was made."),
    Column("outcome_json", "json", True, "The reported outcome (JSON text)."),
    Column("outcome_observed_at", "timestamp", True, "When the outcome was observed."),
)
TIMESTAMPS = [i for i, c in enumerate(LABEL_COLUMNS) if c.type == "timestamp"]
DECIDED_BY = [c.name for c in LABEL_COLUMNS].index("decided_by")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class LabelsFile:
    path: Path
    rows: int
    sha256: str


# Each column as the database gives it: JSON is cast to text in SQL, so no row is decoded
# into Python objects and encoded again (five times faster than model instances).
COLUMNS = {
    "external_id": F("external_id"),
    "version": F("version__label"),
    "received_at": F("received_at"),
    "inputs_json": Cast("inputs", TextField()),
    "model_output_json": Cast("output", TextField()),
    "confidence": F("confidence"),
    "label_json": Coalesce(
        Cast("outcome__actual", TextField()),
        Case(
            When(decision__action="override", then=Cast("decision__final_output", TextField())),
            # An approval confirms the model's own output.
            When(decision__action="approve", then=Cast("output", TextField())),
            output_field=TextField(),
        ),
    ),
    "label_source": Case(
        When(outcome__isnull=False, then=Value("outcome")),
        default=Value("decision"),
        output_field=CharField(),
    ),
    "decision_action": F("decision__action"),
    "decision_output_json": Cast("decision__final_output", TextField()),
    "decided_by": Cast("decision__decided_by", TextField()),
    "decided_at": F("decision__decided_at"),
    "outcome_json": Cast("outcome__actual", TextField()),
    "outcome_observed_at": F("outcome__observed_at"),
}


def labelled_predictions(model: MLModel, since: datetime | None):
    """Production predictions with a decision or an outcome recorded since ``since``."""
    from reviewapp.models import Prediction

    # A person's approval or override is a label; a rejection names no answer, and a fallback
    # after an SLA breach is the system accepting the model's own output, not a judgement.
    human = Q(decision__action__in=HUMAN_LABEL_ACTIONS)
    outcome = Q(outcome__isnull=False)
    if since is not None:
        human &= Q(decision__decided_at__gte=since)
        outcome &= Q(outcome__recorded_at__gte=since)
    queryset = Prediction.objects.filter(model=model, is_shadow=False).filter(human | outcome)
    # Decision and Outcome are one-to-one with the prediction: the joins add no duplicates.
    return queryset.order_by("pk").values_list(*COLUMNS.values())


def _decided_by(value: str | None) -> str | None:
    return None if value is None else ",".join(json.loads(value))


def labels_path_for(model: MLModel, request_id: int) -> Path:
    return Path(settings.RETRAINING_LABELS_DIR) / model.slug / f"retraining-{request_id}.parquet"


def _arrow_row(row: tuple) -> list:
    """A database row in the export writer's ``arrow`` rendering (times as epoch µs)."""
    values = list(row)
    for index in TIMESTAMPS:
        if values[index] is not None:
            values[index] = (values[index] - EPOCH) // MICROSECOND
    values[DECIDED_BY] = _decided_by(values[DECIDED_BY])
    return values


def labels_write(*, model: MLModel, request_id: int, since: datetime | None) -> LabelsFile:
    """Write the labels file for one request; writing it again gives the same content."""
    path = labels_path_for(model, request_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    batch: list[list] = []
    with ParquetWriter(temporary, LABEL_COLUMNS) as writer:
        for row in labelled_predictions(model, since).iterator(chunk_size=BATCH_SIZE):
            batch.append(_arrow_row(row))
            if len(batch) >= BATCH_SIZE:
                writer.write(batch)
                batch = []
        writer.write(batch)
        rows = writer.rows_written
    sha256 = file_sha256(temporary)
    os.replace(temporary, path)
    return LabelsFile(path=path, rows=rows, sha256=sha256)

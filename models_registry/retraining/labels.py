"""The training-labels file: what people and the world said about production predictions.

One row per production prediction of the model with a human decision or an outcome recorded
since the active version went live, written as Parquet with pyarrow in batches so a large
model's labels never sit in memory at once. The file is written under a temporary name and
renamed, so a reader (or a retried task) never sees half a file.

This is a small, self-contained writer; it should be folded into the compliance export code
(audit exports) once both exist on main.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db.models import Q

from models_registry.models import MLModel

BATCH_SIZE = 5000

SCHEMA = pa.schema(
    [
        ("external_id", pa.string()),
        ("version", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("inputs_json", pa.string()),
        ("model_output_json", pa.string()),
        ("confidence", pa.float64()),
        ("label_json", pa.string()),
        ("label_source", pa.string()),
        ("decision_action", pa.string()),
        ("decision_output_json", pa.string()),
        ("decided_by", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("outcome_json", pa.string()),
        ("outcome_observed_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class LabelsFile:
    path: Path
    rows: int
    sha256: str


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def labelled_predictions(model: MLModel, since: datetime | None):
    """Production predictions with a decision or an outcome recorded since ``since``."""
    from reviewapp.models import Prediction

    queryset = Prediction.objects.filter(model=model, is_shadow=False).filter(
        Q(decision__isnull=False) | Q(outcome__isnull=False)
    )
    if since is not None:
        queryset = queryset.filter(
            Q(decision__decided_at__gte=since) | Q(outcome__recorded_at__gte=since)
        )
    # Decision and Outcome are one-to-one with the prediction: the joins add no duplicates.
    return queryset.select_related("version", "decision", "outcome").order_by("pk")


def _row(prediction) -> dict:
    decision = getattr(prediction, "decision", None)
    outcome = getattr(prediction, "outcome", None)
    if outcome is not None:
        label, source = outcome.actual, "outcome"
    else:
        label, source = decision.final_output, "decision"
    return {
        "external_id": prediction.external_id,
        "version": prediction.version.label,
        "received_at": prediction.received_at,
        "inputs_json": _json(prediction.inputs),
        "model_output_json": _json(prediction.output),
        "confidence": prediction.confidence,
        "label_json": _json(label),
        "label_source": source,
        "decision_action": decision.action if decision else None,
        "decision_output_json": _json(decision.final_output) if decision else None,
        "decided_by": ",".join(decision.decided_by) if decision else None,
        "decided_at": decision.decided_at if decision else None,
        "outcome_json": _json(outcome.actual) if outcome else None,
        "outcome_observed_at": outcome.observed_at if outcome else None,
    }


def labels_path_for(model: MLModel, request_id: int) -> Path:
    return Path(settings.RETRAINING_LABELS_DIR) / model.slug / f"retraining-{request_id}.parquet"


def labels_write(*, model: MLModel, request_id: int, since: datetime | None) -> LabelsFile:
    """Write the labels file for one request; writing it again gives the same file."""
    path = labels_path_for(model, request_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    rows = 0
    batch: list[dict] = []
    with pq.ParquetWriter(temporary, SCHEMA) as writer:
        for prediction in labelled_predictions(model, since).iterator(chunk_size=BATCH_SIZE):
            batch.append(_row(prediction))
            if len(batch) >= BATCH_SIZE:
                writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
                rows += len(batch)
                batch = []
        if batch or rows == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
            rows += len(batch)
    digest = hashlib.sha256()
    with open(temporary, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    os.replace(temporary, path)
    return LabelsFile(path=path, rows=rows, sha256=digest.hexdigest())

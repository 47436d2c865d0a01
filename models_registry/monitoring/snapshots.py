"""Measure one closed window of one model: traffic, quality, confidence, review, accuracy, drift.

A snapshot is written once per (model, window kind, window start) and never replaced, so a
rerun of the schedule or of ``manage.py monitoring_snapshot`` duplicates nothing. Predictions
are read in chunks (streamed with COPY on PostgreSQL, parsed by pandas) and folded into
running counts plus a bounded uniform sample per numeric feature, so memory stays flat however
large the window: PSI, chi-square, missing and violation rates use exact counts over the whole
window; the KS test, Wasserstein distance and quantiles use the sample (the whole window when
it fits).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from models_registry.models import (
    WINDOW_SECONDS,
    Baseline,
    MLModel,
    MonitoringSnapshot,
    SnapshotWindow,
    VersionStatus,
)
from models_registry.monitoring import stats
from models_registry.monitoring.baseline import latest_baseline, sample_frame
from models_registry.monitoring.features import (
    CATEGORICAL,
    NUMERIC,
    OUTPUT,
    Feature,
    monitored_features,
    output_feature,
)
from reviewapp.models import Decision, Outcome, Prediction

logger = logging.getLogger(__name__)

CONFIDENCE_EDGES = np.linspace(0.0, 1.0, 11)
MIN_DRIFT_SAMPLE = 30
HUMAN_ACTIONS = ("approve", "override", "reject")
DISAGREEMENT_ACTIONS = ("override", "reject")


def chunk_size() -> int:
    return int(getattr(settings, "MONITORING_CHUNK_SIZE", 20_000))


def drift_sample_cap() -> int:
    return int(getattr(settings, "MONITORING_DRIFT_SAMPLE_ROWS", 200_000))


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def last_closed_window(window: str, at: datetime) -> tuple[datetime, datetime]:
    seconds = WINDOW_SECONDS[window]
    end = int(at.timestamp()) // seconds * seconds
    return _utc(end - seconds), _utc(end)


# --- Reading predictions in chunks -------------------------------------------------------


def _column(feature: Feature) -> str:
    return f"in:{feature.name}"


def _copy_query(model: MLModel, start, end, features: list[Feature]):
    from psycopg import sql

    columns = [sql.SQL("inputs->>{}").format(sql.Literal(f.name)) for f in features]
    columns += [
        sql.SQL("output#>>'{}'"),
        sql.SQL("confidence"),
        sql.SQL("status"),
        sql.SQL("NULLIF(routing_reasons::text, '[]')"),
        sql.SQL("NULLIF(contract_violations::text, '[]')"),
    ]
    return sql.SQL(
        "COPY (SELECT {columns} FROM {table} WHERE model_id = {model} "
        "AND received_at >= {start} AND received_at < {end}) TO STDOUT"
    ).format(
        columns=sql.SQL(", ").join(columns),
        table=sql.Identifier(Prediction._meta.db_table),
        model=sql.Literal(model.pk),
        start=sql.Literal(start),
        end=sql.Literal(end),
    )


_COPY_ESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}


def _unescape(column: pd.Series) -> pd.Series:
    """Undo COPY text-format escaping in the rare values that contain a backslash."""
    text = column.astype(object)
    mask = text.map(lambda v: isinstance(v, str) and "\\" in v)
    if mask.any():
        text[mask] = text[mask].map(
            lambda v: re.sub(r"\\[\\tnr]", lambda m: _COPY_ESCAPES[m.group(0)], v)
        )
    return text


def _parse_copy_block(
    block: bytes, names: list[str], features: list[Feature], out: Feature | None
) -> pd.DataFrame:
    numeric = {_column(f) for f in features if f.kind == NUMERIC}
    if out is not None and out.kind == NUMERIC:
        numeric.add(OUTPUT)
    frame = pd.read_csv(
        io.BytesIO(block),
        sep="\t",
        header=None,
        names=names,
        quoting=csv.QUOTE_NONE,
        na_values=["\\N"],
        keep_default_na=False,
        dtype={name: str for name in names if name not in numeric and name != "confidence"},
        engine="c",
    )
    # "\N" is NULL; any other backslash is an escaped character in some value.
    escaped = re.search(rb"\\[^N]", block) is not None
    for name in names:
        if name in numeric or name == "confidence":
            if not pd.api.types.is_float_dtype(frame[name]):
                # Text where a number was due (a contract violation): not a number here.
                frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        elif escaped:
            frame[name] = _unescape(frame[name])
    for name in ("reasons", "violations"):
        texts = frame[name].to_numpy(dtype=object)
        values = [None] * len(frame)
        for i in np.flatnonzero(frame[name].notna().to_numpy()):
            values[i] = json.loads(texts[i])
        frame[name] = pd.Series(values, index=frame.index, dtype=object)
    return frame


def _postgres_chunks(
    model: MLModel, start, end, features: list[Feature], out: Feature | None
) -> Iterator[pd.DataFrame]:
    """Let PostgreSQL pull each feature out of the JSON and stream rows with COPY; pandas
    parses each block of about ``chunk_size()`` rows in C."""
    names = [_column(f) for f in features] + [
        OUTPUT,
        "confidence",
        "status",
        "reasons",
        "violations",
    ]
    connection.ensure_connection()
    rows_wanted = chunk_size()
    pending: list[bytes] = []
    pending_rows = 0
    with connection.connection.cursor() as cursor:
        with cursor.copy(_copy_query(model, start, end, features)) as copy:
            for data in copy:
                data = bytes(data)
                pending.append(data)
                pending_rows += data.count(b"\n")
                if pending_rows < rows_wanted:
                    continue
                buffer = b"".join(pending)
                cut = buffer.rfind(b"\n") + 1
                pending, pending_rows = [buffer[cut:]], buffer[cut:].count(b"\n")
                yield _parse_copy_block(buffer[:cut], names, features, out)
        rest = b"".join(pending)
        if rest.strip():
            yield _parse_copy_block(rest, names, features, out)


def _categorical_text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _numeric_value(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _generic_chunks(
    model: MLModel, start, end, features: list[Feature], out: Feature | None
) -> Iterator[pd.DataFrame]:
    """Any database: Django's chunked iterator, features extracted in Python."""
    rows = (
        Prediction.objects.filter(model=model, received_at__gte=start, received_at__lt=end)
        .values_list(
            "inputs", "output", "confidence", "status", "routing_reasons", "contract_violations"
        )
        .iterator(chunk_size=chunk_size())
    )
    out_convert = _numeric_value if out is not None and out.kind == NUMERIC else _categorical_text
    batch = []
    names = [_column(f) for f in features] + [
        OUTPUT,
        "confidence",
        "status",
        "reasons",
        "violations",
    ]

    def frame_of(batch):
        return pd.DataFrame.from_records(batch, columns=names)

    for inputs, output, confidence, status, reasons, violations in rows:
        inputs = inputs if isinstance(inputs, dict) else {}
        values = [
            (_numeric_value if f.kind == NUMERIC else _categorical_text)(inputs.get(f.name))
            for f in features
        ]
        batch.append(
            (
                *values,
                out_convert(output),
                confidence,
                status,
                reasons or None,
                violations or None,
            )
        )
        if len(batch) >= chunk_size():
            yield frame_of(batch)
            batch = []
    if batch:
        yield frame_of(batch)


def prediction_chunks(model, start, end, features, out) -> Iterator[pd.DataFrame]:
    if connection.vendor == "postgresql":
        return _postgres_chunks(model, start, end, features, out)
    return _generic_chunks(model, start, end, features, out)


# --- Folding chunks into running figures -------------------------------------------------


@dataclass
class _Reservoir:
    """A uniform sample of at most ``cap`` rows: keep the rows with the smallest random keys."""

    cap: int
    columns: int
    rng: np.random.Generator
    keys: np.ndarray = field(default_factory=lambda: np.empty(0))
    values: np.ndarray | None = None

    def add(self, block: np.ndarray) -> None:
        keys = self.rng.random(len(block))
        if self.values is None:
            self.values = np.empty((0, self.columns))
        keys = np.concatenate([self.keys, keys])
        values = np.vstack([self.values, block])
        if len(keys) > self.cap:
            keep = np.argpartition(keys, self.cap - 1)[: self.cap]
            keep.sort()
            keys, values = keys[keep], values[keep]
        self.keys, self.values = keys, values

    def column(self, index: int) -> np.ndarray:
        if self.values is None:
            return np.empty(0)
        column = self.values[:, index]
        return column[~np.isnan(column)]


@dataclass
class _Accumulator:
    features: list[Feature]
    out: Feature | None
    psi_edges: dict[str, np.ndarray]
    display_edges: dict[str, np.ndarray]
    confidence_threshold: float | None
    reservoir: _Reservoir
    volume: int = 0
    status: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    routed: int = 0
    violating: int = 0
    violations_by_field: Counter = field(default_factory=Counter)
    missing: Counter = field(default_factory=Counter)
    categories: dict[str, Counter] = field(default_factory=dict)
    psi_counts: dict[str, np.ndarray] = field(default_factory=dict)
    display_counts: dict[str, np.ndarray] = field(default_factory=dict)
    confidence_sum: float = 0.0
    confidence_under: int = 0
    confidence_hist: np.ndarray = field(default_factory=lambda: np.zeros(10, dtype=int))

    @property
    def numeric_columns(self) -> list[str]:
        names = [_column(f) for f in self.features if f.kind == NUMERIC]
        if self.out is not None and self.out.kind == NUMERIC:
            names.append(OUTPUT)
        return [*names, "confidence"]

    @property
    def categorical_columns(self) -> list[str]:
        names = [_column(f) for f in self.features if f.kind == CATEGORICAL]
        if self.out is not None and self.out.kind == CATEGORICAL:
            names.append(OUTPUT)
        return names

    def add(self, frame: pd.DataFrame) -> None:
        self.volume += len(frame)
        self.status.update(frame["status"].value_counts().to_dict())
        for reasons in frame["reasons"].dropna():
            self.routed += 1
            self.reasons.update({r.get("rule", "unknown") for r in reasons})
        for violations in frame["violations"].dropna():
            self.violating += 1
            fields = {
                v.get("path", "").removeprefix("inputs").lstrip(".").split(".")[0]
                or v.get("path", "")
                for v in violations
            }
            self.violations_by_field.update(fields)
        for feature in self.features:
            self.missing[feature.name] += int(frame[_column(feature)].isna().sum())
        numeric = frame[self.numeric_columns].astype(float)
        self.reservoir.add(numeric.to_numpy())
        for name, edges in self.psi_edges.items():
            values = numeric[name].dropna().to_numpy()
            self.psi_counts[name] = self.psi_counts.get(name, 0) + stats.binned_counts(
                values, edges
            )
            display = self.display_edges.get(name)
            if display is not None:
                clipped = np.clip(values, display[0], display[-1])
                counts, _ = np.histogram(clipped, bins=display)
                self.display_counts[name] = self.display_counts.get(name, 0) + counts
        for name in self.categorical_columns:
            counts = frame[name].dropna().astype(str).value_counts().to_dict()
            self.categories.setdefault(name, Counter()).update(counts)
        confidence = frame["confidence"].dropna().to_numpy(dtype=float)
        self.confidence_sum += float(confidence.sum())
        if self.confidence_threshold is not None:
            self.confidence_under += int(np.sum(confidence < self.confidence_threshold))
        counts, _ = np.histogram(np.clip(confidence, 0, 1), bins=CONFIDENCE_EDGES)
        self.confidence_hist += counts


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


def _baseline_inputs(baseline: Baseline | None, features: list[Feature], out: Feature | None):
    """Baseline sample columns keyed like the window's columns, and PSI/display bin edges."""
    if baseline is None:
        return {}, {}, {}
    frame = sample_frame(baseline)
    columns, psi_edges, display_edges = {}, {}, {}
    wanted = [(f, _column(f)) for f in features]
    if out is not None:
        wanted.append((out, OUTPUT))
    for feature, name in wanted:
        if feature.name not in frame:
            continue
        if feature.kind == NUMERIC:
            values = frame[feature.name].dropna().to_numpy(dtype=float)
            if values.size == 0:
                continue
            columns[name] = values
            psi_edges[name] = stats.psi_bin_edges(values)
            hist = baseline.profile.get(feature.name, {}).get("histogram")
            if hist:
                display_edges[name] = np.asarray(hist["edges"], dtype=float)
        else:
            columns[name] = baseline.profile.get(feature.name, {}).get(
                "frequencies"
            ) or stats_counts(frame[feature.name])
    return columns, psi_edges, display_edges


def stats_counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.dropna().astype(str).value_counts().items()}


def _drift(acc: _Accumulator, baseline: Baseline, baseline_columns: dict) -> dict:
    thresholds = dict(stats.DEFAULT_THRESHOLDS)
    results = {}
    numeric_index = {name: i for i, name in enumerate(acc.numeric_columns)}
    targets = [(f, _column(f)) for f in acc.features]
    if acc.out is not None:
        targets.append((acc.out, OUTPUT))
    for feature, name in targets:
        reference = baseline_columns.get(name)
        label = feature.name
        if reference is None:
            results[label] = {"kind": feature.kind, "tested": False, "note": "not in baseline"}
            continue
        if feature.kind == NUMERIC:
            current = acc.reservoir.column(numeric_index[name])
            counts = acc.psi_counts.get(name)
            n_current = int(counts.sum()) if counts is not None else 0
            if n_current < MIN_DRIFT_SAMPLE:
                results[label] = {
                    "kind": NUMERIC,
                    "tested": False,
                    "n_current": n_current,
                    "note": f"fewer than {MIN_DRIFT_SAMPLE} values",
                }
                continue
            result = stats.numeric_drift(
                reference,
                current,
                current_bin_counts=counts,
                inner_edges=acc.psi_edges[name],
                thresholds=thresholds,
            )
            entry = {
                "kind": NUMERIC,
                "tested": True,
                "n_baseline": int(reference.size),
                "n_current": n_current,
                "n_current_sample": int(current.size),
                "tests": ["ks_2samp", "psi", "wasserstein_normalized"],
                **result.as_dict(),
                "current_mean": float(np.mean(current)),
            }
            if name in acc.display_counts:
                entry["current_histogram"] = acc.display_counts[name].tolist()
            results[label] = entry
        else:
            current_counts = dict(acc.categories.get(name, {}))
            n_current = sum(current_counts.values())
            if n_current < MIN_DRIFT_SAMPLE:
                results[label] = {
                    "kind": CATEGORICAL,
                    "tested": False,
                    "n_current": n_current,
                    "note": f"fewer than {MIN_DRIFT_SAMPLE} values",
                }
                continue
            result = stats.categorical_drift(reference, current_counts, thresholds=thresholds)
            top = dict(Counter(current_counts).most_common(50))
            results[label] = {
                "kind": CATEGORICAL,
                "tested": True,
                "n_baseline": int(sum(reference.values())),
                "n_current": n_current,
                "tests": ["chi2_contingency", "psi"],
                **result.as_dict(),
                "current_frequencies": top,
            }
    output_result = results.pop(OUTPUT, None) if acc.out is not None else None
    tested = [r for r in results.values() if r.get("tested")]
    drifted = [r for r in tested if r["drifted"]]
    return {
        "baseline_id": baseline.pk,
        "thresholds": thresholds,
        "rule": {
            "numeric": "ks_pvalue < 0.05 and (wasserstein_normalized >= 0.1 or psi >= 0.1)",
            "categorical": "chi2_pvalue < 0.05 and psi >= 0.1",
        },
        "features": results,
        "output": output_result,
        "tested": len(tested),
        "drifted": len(drifted),
        "drifted_features": sorted(k for k, r in results.items() if r.get("drifted")),
        "share": len(drifted) / len(tested) if tested else None,
    }


def _accuracy(model: MLModel, out: Feature | None, start, end) -> dict:
    regression = out is not None and out.kind == NUMERIC
    outcome_pairs = Outcome.objects.filter(
        prediction__model=model, recorded_at__gte=start, recorded_at__lt=end
    ).values_list("actual", "prediction__output")
    decision_pairs = Decision.objects.filter(
        prediction__model=model,
        decided_at__gte=start,
        decided_at__lt=end,
        action__in=("approve", "override"),
        final_output__isnull=False,
    ).values_list("final_output", "prediction__output")
    result = {}
    for source, pairs in (("outcomes", outcome_pairs), ("decisions", decision_pairs)):
        parts = []
        batch_actual, batch_predicted = [], []
        for actual, predicted in pairs.iterator(chunk_size=chunk_size()):
            if regression:
                actual, predicted = _numeric_value(actual), _numeric_value(predicted)
                if actual is None or predicted is None:
                    continue
            elif actual is None or predicted is None:
                continue
            else:
                actual, predicted = _categorical_text(actual), _categorical_text(predicted)
            batch_actual.append(actual)
            batch_predicted.append(predicted)
            if len(batch_actual) >= chunk_size():
                parts.append(_counts(regression, batch_actual, batch_predicted))
                batch_actual, batch_predicted = [], []
        if batch_actual:
            parts.append(_counts(regression, batch_actual, batch_predicted))
        if regression:
            counts = stats.regression_merge(parts)
            result[source] = {"counts": counts, **stats.regression_metrics(counts)}
        else:
            counts = stats.classification_merge(parts)
            result[source] = {"counts": counts, **stats.classification_metrics(counts)}
    return result


def _counts(regression: bool, actual, predicted) -> dict:
    if regression:
        return stats.regression_counts(actual, predicted)
    return stats.classification_counts(actual, predicted)


def _decisions(model: MLModel, start, end) -> dict:
    by_action = Counter(
        dict(
            Decision.objects.filter(
                prediction__model=model, decided_at__gte=start, decided_at__lt=end
            )
            .values_list("action")
            .annotate(n=Count("id"))
            .values_list("action", "n")
        )
    )
    human = sum(by_action[a] for a in HUMAN_ACTIONS)
    disagreed = sum(by_action[a] for a in DISAGREEMENT_ACTIONS)
    return {
        "n": sum(by_action.values()),
        "human": human,
        "by_action": dict(by_action),
        "rates": {a: _rate(by_action[a], human) for a in HUMAN_ACTIONS},
        "override_rate": _rate(disagreed, human),
        "disagreed": disagreed,
    }


def snapshot_measure(
    *, model: MLModel, window: str, start: datetime, end: datetime, seed: int | None = None
) -> dict:
    """Measure [start, end) for ``model`` without writing anything."""
    version = model.active_version
    baseline = latest_baseline(version)
    contract = version.input_contract if version else {}
    features = monitored_features(contract)
    out = output_feature(version.output_spec) if version else None
    policy = getattr(version, "routing_policy", None) if version else None
    threshold = policy.confidence_threshold if policy else None
    baseline_columns, psi_edges, display_edges = _baseline_inputs(baseline, features, out)
    if seed is None:
        seed = zlib.crc32(f"{model.pk}:{window}:{start.isoformat()}".encode())
    numeric_count = sum(f.kind == NUMERIC for f in features) + 1  # + confidence
    if out is not None and out.kind == NUMERIC:
        numeric_count += 1
    acc = _Accumulator(
        features,
        out,
        psi_edges,
        display_edges,
        threshold,
        _Reservoir(drift_sample_cap(), numeric_count, np.random.default_rng(seed)),
    )
    for frame in prediction_chunks(model, start, end, features, out):
        acc.add(frame)
    volume = acc.volume
    confidence_values = acc.reservoir.column(len(acc.numeric_columns) - 1)
    quantiles = (
        {
            str(q): float(v)
            for q, v in zip(
                (0.05, 0.25, 0.5, 0.75, 0.95),
                np.quantile(confidence_values, (0.05, 0.25, 0.5, 0.75, 0.95)),
                strict=True,
            )
        }
        if confidence_values.size
        else {}
    )
    metrics = {
        "volume": volume,
        "status": dict(acc.status),
        "review": {
            "routed": acc.routed,
            "rate": _rate(acc.routed, volume),
            "by_reason": {
                r: {"count": n, "share": _rate(n, volume)} for r, n in sorted(acc.reasons.items())
            },
        },
        "contract": {
            "violating": acc.violating,
            "rate": _rate(acc.violating, volume),
            "by_field": {
                f: {"count": n, "rate": _rate(n, volume)}
                for f, n in sorted(acc.violations_by_field.items())
            },
        },
        "missing": {
            f.name: {"count": acc.missing[f.name], "rate": _rate(acc.missing[f.name], volume)}
            for f in features
        },
        "confidence": {
            "n": volume,
            "mean": acc.confidence_sum / volume if volume else None,
            "quantiles": quantiles,
            "threshold": threshold,
            "under_threshold": acc.confidence_under,
            "under_threshold_share": _rate(acc.confidence_under, volume)
            if threshold is not None
            else None,
            "histogram": {
                "edges": CONFIDENCE_EDGES.tolist(),
                "counts": acc.confidence_hist.tolist(),
            },
        },
        "decisions": _decisions(model, start, end),
        "accuracy": _accuracy(model, out, start, end),
        "output_kind": out.kind if out else None,
    }
    if baseline is None:
        drift = {"note": "no baseline uploaded yet", "share": None}
    elif version is None:
        drift = {"note": "no active version", "share": None}
    else:
        drift = _drift(acc, baseline, baseline_columns)
    return {
        "version": version,
        "baseline": baseline,
        "volume": volume,
        "metrics": metrics,
        "drift": drift,
    }


def snapshot_take(
    *, model: MLModel, window: str, start: datetime
) -> tuple[MonitoringSnapshot, bool]:
    """The snapshot of one closed window: the stored one, or measured and stored now.

    Concurrent runs settle on the unique constraint: the loser reads the winner's row.
    """
    existing = MonitoringSnapshot.objects.filter(model=model, window=window, window_start=start)
    found = existing.first()
    if found is not None:
        return found, False
    end = start + timedelta(seconds=WINDOW_SECONDS[window])
    if end > timezone.now():
        raise ValueError(f"The {window} window starting {start.isoformat()} has not closed yet.")
    measured = snapshot_measure(model=model, window=window, start=start, end=end)
    previous = (
        MonitoringSnapshot.objects.filter(
            model=model, window=window, window_start=start - (end - start)
        )
        .only("drift", "window_start")
        .first()
    )
    compare_with_previous(measured["drift"], previous)
    try:
        with transaction.atomic():
            snapshot = MonitoringSnapshot.objects.create(
                model=model,
                version=measured["version"],
                baseline=measured["baseline"],
                window=window,
                window_start=start,
                window_end=end,
                prediction_count=measured["volume"],
                metrics=measured["metrics"],
                drift=measured["drift"],
                drift_share=measured["drift"].get("share"),
            )
    except IntegrityError:
        return existing.get(), False
    return snapshot, True


def compare_with_previous(drift: dict, previous: MonitoringSnapshot | None) -> None:
    """Add each feature's PSI against the previous window of the same kind (its recent past).

    Computed from the distributions both snapshots stored (numeric: counts on the baseline's
    histogram bins, so only when both used the same baseline; categorical: the top categories),
    so no raw predictions are read again.
    """
    if previous is None or not drift.get("features") or not previous.drift.get("features"):
        return
    same_baseline = previous.drift.get("baseline_id") == drift.get("baseline_id")
    for name, entry in drift["features"].items():
        before = previous.drift["features"].get(name) or {}
        if not entry.get("tested") or not before.get("tested"):
            continue
        if entry["kind"] == NUMERIC and same_baseline:
            a, b = before.get("current_histogram"), entry.get("current_histogram")
            if a and b and len(a) == len(b) and sum(a) and sum(b):
                entry["psi_vs_previous"] = stats.psi_from_counts(a, b)
        elif entry["kind"] == CATEGORICAL:
            a, b = before.get("current_frequencies"), entry.get("current_frequencies")
            if a and b:
                keys = sorted(set(a) | set(b))
                entry["psi_vs_previous"] = stats.psi_from_counts(
                    [a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]
                )
    drift["previous_window_start"] = previous.window_start.isoformat()


def monitored_models():
    return MLModel.objects.filter(versions__status=VersionStatus.ACTIVE).distinct()


@dataclass(frozen=True)
class RunResult:
    created: int
    existing: int


def snapshots_run(
    *,
    now: datetime | None = None,
    windows: list[str] | None = None,
    models=None,
    backfill: int = 1,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Take every missing snapshot of the last ``backfill`` closed windows of each kind."""
    now = now or timezone.now()
    windows = windows or list(getattr(settings, "MONITORING_WINDOWS", SnapshotWindow.values))
    created = existing = 0
    for model in models if models is not None else monitored_models():
        for window in windows:
            start, _ = last_closed_window(window, now)
            for back in range(backfill):
                window_start = start - timedelta(seconds=WINDOW_SECONDS[window] * back)
                snapshot, made = snapshot_take(model=model, window=window, start=window_start)
                created += made
                existing += not made
                if progress:
                    state = "measured" if made else "already there"
                    progress(
                        f"{model.slug} {window} {window_start:%Y-%m-%d %H:%M}: "
                        f"{snapshot.prediction_count} predictions ({state})"
                    )
    return RunResult(created, existing)

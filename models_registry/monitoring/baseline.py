"""Turn an uploaded training-data sample (CSV or Parquet) into a stored baseline.

The file is read with pandas/pyarrow, checked against the version's input contract row by row
(violations are reported per column, and the offending values are left out of the profile
rather than silently coerced), profiled per feature, and reduced to a bounded random sample
that the drift tests compare against. The file itself is not kept.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction

from audit.actors import Actor
from audit.services import audit_event_record
from models_registry.models import Baseline, ModelVersion
from models_registry.monitoring.features import (
    CATEGORICAL,
    NUMERIC,
    OUTPUT,
    Feature,
    input_features,
    output_feature,
)

QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
HISTOGRAM_BINS = 20
MAX_CATEGORIES = 200
OTHER = "__other__"
EXAMPLES_PER_COLUMN = 5


class BaselineError(ValueError):
    """The file can't become a baseline; ``field`` names what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def sample_rows_cap() -> int:
    return int(getattr(settings, "MONITORING_BASELINE_SAMPLE_ROWS", 50_000))


def read_table(content: bytes, file_name: str) -> pd.DataFrame:
    """CSV or Parquet (recognised by its magic bytes, whatever the name says)."""
    if not content:
        raise BaselineError("file", "The file is empty.")
    try:
        if content[:4] == b"PAR1":
            return pd.read_parquet(io.BytesIO(content))
        return pd.read_csv(io.BytesIO(content))
    except Exception as error:  # pandas raises many types for a bad file; all mean "unreadable"
        kind = "Parquet" if content[:4] == b"PAR1" else "CSV"
        raise BaselineError("file", f"Could not read '{file_name}' as {kind}: {error}") from error


def _coerce_numeric(frame: pd.DataFrame, features: list[Feature], report: dict) -> None:
    """Turn numeric columns into numbers; text that is not a number is a reported violation."""
    for feature in features:
        if feature.kind != NUMERIC or feature.name not in frame:
            continue
        column = frame[feature.name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            continue
        coerced = pd.to_numeric(column, errors="coerce")
        bad = column.notna() & coerced.isna()
        for row in np.flatnonzero(bad.to_numpy()):
            _report(report, feature.name, int(row), f"{column.iloc[row]!r} is not a number")
        frame[feature.name] = coerced


def _report(report: dict, column: str, row: int, message: str) -> None:
    entry = report.setdefault(column, {"count": 0, "rows": set(), "examples": []})
    if row in entry["rows"]:
        return
    entry["rows"].add(row)
    entry["count"] += 1
    if len(entry["examples"]) < EXAMPLES_PER_COLUMN:
        entry["examples"].append({"row": row + 1, "message": message})


def _native(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


SIMPLE_CONTRACT_KEYS = {"type", "properties", "required", "$schema", "title", "description"}
SIMPLE_FIELD_KEYS = {
    "type",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "enum",
    "format",
    "minLength",
    "maxLength",
    "x-pii",
    "title",
    "description",
}


def _suspect_rows(frame: pd.DataFrame, contract: dict, present: list[str]) -> np.ndarray | None:
    """Rows that may break a simple contract, found column-wise; None when not simple.

    This only narrows the search: every suspect row is then validated with jsonschema, which
    writes the messages. It must never be laxer than jsonschema, so anything it can't judge
    column-wise (an unknown format, a nested schema) makes every non-empty value a suspect.
    """
    if not set(contract) <= SIMPLE_CONTRACT_KEYS or contract.get("type", "object") != "object":
        return None
    properties = contract.get("properties", {})
    suspect = np.zeros(len(frame), dtype=bool)
    for name in contract.get("required", []):
        suspect |= frame[name].isna().to_numpy() if name in frame else True
    for name in present:
        schema = properties.get(name)
        if not isinstance(schema, dict) or not set(schema) <= SIMPLE_FIELD_KEYS:
            return None
        column = frame[name]
        filled = column.notna().to_numpy()
        bad = np.zeros(len(frame), dtype=bool)
        kind = schema.get("type")
        numeric = pd.to_numeric(column, errors="coerce") if kind in ("number", "integer") else None
        if kind in ("number", "integer"):
            is_number = column.map(lambda v: isinstance(v, int | float | np.number))
            is_bool = column.map(lambda v: isinstance(v, bool | np.bool_))
            bad |= filled & (~is_number.to_numpy() | is_bool.to_numpy())
            if kind == "integer":
                bad |= filled & ~(numeric.fillna(0) % 1 == 0).to_numpy()
            for key, fails in (
                ("minimum", lambda x, b: x < b),
                ("maximum", lambda x, b: x > b),
                ("exclusiveMinimum", lambda x, b: x <= b),
                ("exclusiveMaximum", lambda x, b: x >= b),
            ):
                if key in schema:
                    bad |= filled & fails(numeric, schema[key]).fillna(False).to_numpy()
        elif kind == "string":
            text = column.map(lambda v: v if isinstance(v, str) else None)
            bad |= filled & text.isna().to_numpy()
            lengths = text.str.len()
            if "minLength" in schema:
                bad |= (lengths < schema["minLength"]).fillna(False).to_numpy()
            if "maxLength" in schema:
                bad |= (lengths > schema["maxLength"]).fillna(False).to_numpy()
            if schema.get("format") == "email":
                bad |= filled & ~text.str.contains("@", regex=False).fillna(False).to_numpy()
        elif kind is not None or "enum" not in schema:
            bad |= filled  # a type not judged column-wise: let jsonschema look at every value
        if "format" in schema and schema["format"] != "email":
            bad |= filled
        if "enum" in schema:
            bad |= filled & ~column.isin(schema["enum"]).to_numpy()
        suspect |= bad
    return np.flatnonzero(suspect)


def _check_contract(frame: pd.DataFrame, version: ModelVersion, report: dict) -> None:
    contract_columns = [f.name for f in input_features(version.input_contract)]
    present = [c for c in contract_columns if c in frame]
    validator = version.validator
    rows = _suspect_rows(frame, version.input_contract or {}, present)
    candidates = frame[present] if rows is None else frame[present].iloc[rows]
    numbers = range(len(frame)) if rows is None else rows
    values = candidates.astype(object).where(candidates.notna(), None)
    for row, record in zip(numbers, values.itertuples(index=False, name=None), strict=True):
        inputs = {k: _native(v) for k, v in zip(present, record, strict=True) if v is not None}
        for violation in validator.input_violations(inputs):
            column = violation.path.removeprefix("inputs").lstrip(".").split(".")[0] or "(row)"
            _report(report, column, int(row), violation.message)


def _numeric_profile(values: pd.Series) -> dict:
    clean = values.dropna().to_numpy(dtype=float)
    profile = {"kind": NUMERIC}
    if clean.size == 0:
        return profile
    counts, edges = np.histogram(clean, bins=HISTOGRAM_BINS)
    profile.update(
        mean=float(np.mean(clean)),
        std=float(np.std(clean)),
        quantiles={
            str(q): float(v) for q, v in zip(QUANTILES, np.quantile(clean, QUANTILES), strict=True)
        },
        histogram={"edges": edges.tolist(), "counts": counts.tolist()},
    )
    return profile


def category_text(values: pd.Series) -> pd.Series:
    """Categories as the text PostgreSQL's ``->>`` gives for the same JSON values."""
    values = values.dropna()
    return values.map(
        lambda v: ("true" if v else "false") if isinstance(v, bool | np.bool_) else str(v)
    )


def category_counts(values: pd.Series) -> dict[str, int]:
    counts = category_text(values).value_counts()
    top = counts.iloc[:MAX_CATEGORIES]
    result = {str(k): int(v) for k, v in top.items()}
    rest = int(counts.iloc[MAX_CATEGORIES:].sum())
    if rest:
        result[OTHER] = rest
    return result


def profile_frame(frame: pd.DataFrame, features: list[Feature]) -> dict:
    profile = {}
    total = len(frame)
    for feature in features:
        if feature.name not in frame:
            profile[feature.name] = {"kind": feature.kind, "present": False}
            continue
        column = frame[feature.name]
        missing = int(column.isna().sum())
        entry = {
            "type": feature.json_type,
            "present": True,
            "count": total - missing,
            "missing": missing,
            "missing_rate": missing / total if total else 0.0,
        }
        if feature.pii:
            entry.update(kind="pii", note="personal data: not profiled")
        elif feature.kind == NUMERIC:
            entry.update(_numeric_profile(column))
        else:
            entry.update(kind=CATEGORICAL, frequencies=category_counts(column))
        profile[feature.name] = entry
    return profile


@dataclass(frozen=True)
class PreparedBaseline:
    profile: dict
    contract_report: dict
    row_count: int
    sample: pd.DataFrame


def prepare_baseline(frame: pd.DataFrame, version: ModelVersion) -> PreparedBaseline:
    """Check, profile and sample a training frame (pure: no database writes)."""
    features = input_features(version.input_contract)
    if not features:
        raise BaselineError("version", f"{version} has no input fields in its contract.")
    known = {f.name for f in features}
    if not known & set(frame.columns):
        raise BaselineError(
            "file",
            "None of the contract's fields is a column of the file "
            f"(expected some of: {', '.join(sorted(known))}).",
        )
    frame = frame.reset_index(drop=True).copy()
    report: dict = {}
    _coerce_numeric(frame, features, report)
    _check_contract(frame, version, report)
    # Offending values are left out of the profile and the sample: they are reported instead.
    for column, entry in report.items():
        if column in frame and column in known:
            frame.loc[sorted(entry["rows"]), column] = np.nan
    out = output_feature(version.output_spec)
    profiled = [*features, *([out] if out is not None and OUTPUT in frame else [])]
    profile = profile_frame(frame, profiled)
    kept = [f.name for f in profiled if not f.pii and f.name in frame]
    sample = frame[kept]
    if len(sample) > sample_rows_cap():
        sample = sample.sample(n=sample_rows_cap(), random_state=0).sort_index()
    for f in profiled:
        if f.name in sample and f.kind == CATEGORICAL:
            sample[f.name] = sample[f.name].astype("string")
        elif f.name in sample:
            sample[f.name] = sample[f.name].astype(float)
    contract_report = {
        "columns_missing": sorted(known - set(frame.columns)),
        "columns_ignored": sorted(set(frame.columns) - known - {OUTPUT}),
        "violations": {
            column: {"count": e["count"], "examples": e["examples"]}
            for column, e in sorted(report.items())
        },
        "rows_with_violations": len(set().union(*(e["rows"] for e in report.values())))
        if report
        else 0,
    }
    return PreparedBaseline(profile, contract_report, len(frame), sample.reset_index(drop=True))


def sample_frame(baseline: Baseline) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(bytes(baseline.sample_parquet)))


@transaction.atomic
def baseline_upload(
    *,
    version: ModelVersion,
    content: bytes,
    file_name: str,
    actor: Actor,
    uploaded_by=None,
    uploaded_by_key=None,
) -> Baseline:
    """Store a new baseline for ``version``; later snapshots compare against it."""
    frame = read_table(content, file_name)
    prepared = prepare_baseline(frame, version)
    buffer = io.BytesIO()
    prepared.sample.to_parquet(buffer, index=False)
    baseline = Baseline.objects.create(
        version=version,
        file_name=file_name[:255],
        file_sha256=hashlib.sha256(content).hexdigest(),
        row_count=prepared.row_count,
        sample_row_count=len(prepared.sample),
        profile=prepared.profile,
        contract_report=prepared.contract_report,
        sample_parquet=buffer.getvalue(),
        uploaded_by=uploaded_by,
        uploaded_by_key=uploaded_by_key,
    )
    audit_event_record(
        action="baseline.uploaded",
        actor=actor,
        object_type="models_registry.baseline",
        object_id=baseline.pk,
        model=version.model,
        payload={
            "version": version.label,
            "file_name": baseline.file_name,
            "file_sha256": baseline.file_sha256,
            "rows": baseline.row_count,
            "sample_rows": baseline.sample_row_count,
            "rows_with_violations": prepared.contract_report["rows_with_violations"],
        },
    )
    return baseline


def latest_baseline(version: ModelVersion | None) -> Baseline | None:
    if version is None:
        return None
    return Baseline.objects.filter(version=version).defer("sample_parquet").first()

"""Streaming writers: rows arrive in chunks and leave for the file at once, so memory stays
flat however many rows an export has.

CSV and JSON Lines go through gzip (``mtime=0`` so equal content gives equal bytes); Parquet
goes through pyarrow's ``ParquetWriter``, one row group per buffered chunk, zstd inside.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from audit.chain import iso_utc
from audit.exports.columns import Column, canonical_json

FORMATS = ("csv", "jsonl", "parquet")
EXTENSIONS = {"csv": ".csv.gz", "jsonl": ".jsonl.gz", "parquet": ".parquet"}
COMPRESSION = {"csv": "gzip", "jsonl": "gzip", "parquet": "zstd (inside Parquet)"}
GZIP_LEVEL = 6
PARQUET_ROW_GROUP_ROWS = 50_000

Row = Sequence[Any]


def _text_converter(column: Column) -> Callable[[Any], str]:
    """How one value of ``column`` is spelled in CSV."""
    kind = column.type
    if kind == "json":
        # In a nullable JSON column None means "no value" (no decision yet); in a required one
        # it is the JSON value null and must survive the round trip (it is hashed).
        missing = "" if column.nullable else "null"
        return lambda value: missing if value is None else canonical_json(value)
    if kind == "timestamp":
        return lambda value: "" if value is None else iso_utc(value)
    if kind == "bool":
        return lambda value: "" if value is None else ("true" if value else "false")
    if kind == "float":
        return lambda value: "" if value is None else repr(float(value))
    return lambda value: "" if value is None else str(value)


def _json_converter(column: Column) -> Callable[[Any], Any]:
    """How one value of ``column`` is spelled in JSON Lines."""
    kind = column.type
    if kind == "timestamp":
        return lambda value: None if value is None else iso_utc(value)
    if kind == "decimal":
        return lambda value: None if value is None else str(value)
    return lambda value: value


ARROW_TYPES = {
    "int": pa.int64(),
    "string": pa.string(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "decimal": pa.decimal128(18, 2),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
}


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in columns])


class ExportWriter:
    """Base: open ``path``, take chunks of rows (tuples in column order), close."""

    format = ""

    def __init__(self, path: Path, columns: Sequence[Column]):
        self.path = Path(path)
        self.columns = tuple(columns)
        self.rows_written = 0

    def write(self, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> ExportWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CsvWriter(ExportWriter):
    format = "csv"

    def __init__(self, path: Path, columns: Sequence[Column]):
        super().__init__(path, columns)
        self._gzip = gzip.GzipFile(self.path, "wb", compresslevel=GZIP_LEVEL, mtime=0)
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="")
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow([c.name for c in self.columns])
        self._converters = [_text_converter(c) for c in self.columns]

    def write(self, rows: Sequence[Row]) -> None:
        converters = self._converters
        self._csv.writerows(
            [
                [convert(value) for convert, value in zip(converters, row, strict=True)]
                for row in rows
            ]
        )
        self.rows_written += len(rows)

    def close(self) -> None:
        if not self._text.closed:
            self._text.close()


class JsonlWriter(ExportWriter):
    format = "jsonl"

    def __init__(self, path: Path, columns: Sequence[Column]):
        super().__init__(path, columns)
        self._gzip = gzip.GzipFile(self.path, "wb", compresslevel=GZIP_LEVEL, mtime=0)
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="\n")
        self._names = [c.name for c in self.columns]
        self._converters = [_json_converter(c) for c in self.columns]

    def write(self, rows: Sequence[Row]) -> None:
        names, converters = self._names, self._converters
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode
        self._text.write(
            "".join(
                dumps(
                    {
                        name: convert(value)
                        for name, convert, value in zip(names, converters, row, strict=True)
                    }
                )
                + "\n"
                for row in rows
            )
        )
        self.rows_written += len(rows)

    def close(self) -> None:
        if not self._text.closed:
            self._text.close()


class ParquetWriter(ExportWriter):
    format = "parquet"

    def __init__(self, path: Path, columns: Sequence[Column]):
        super().__init__(path, columns)
        self.schema = arrow_schema(self.columns)
        self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self._buffer: list[Row] = []
        self._closed = False

    def write(self, rows: Sequence[Row]) -> None:
        self._buffer.extend(rows)
        self.rows_written += len(rows)
        if len(self._buffer) >= PARQUET_ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        arrays = []
        for index, column in enumerate(self.columns):
            values = [row[index] for row in self._buffer]
            if column.type == "json":
                missing = None if column.nullable else "null"
                values = [missing if v is None else canonical_json(v) for v in values]
            elif column.type == "decimal":
                values = [None if v is None else Decimal(v) for v in values]
            arrays.append(pa.array(values, type=ARROW_TYPES[column.type]))
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self._buffer = []

    def close(self) -> None:
        if not self._closed:
            self._flush()
            self._writer.close()
            self._closed = True


WRITERS: dict[str, type[ExportWriter]] = {
    "csv": CsvWriter,
    "jsonl": JsonlWriter,
    "parquet": ParquetWriter,
}


def writer_for(fmt: str, path: Path, columns: Sequence[Column]) -> ExportWriter:
    return WRITERS[fmt](path, columns)


def file_sha256(path: Path) -> str:
    """SHA-256 of the file exactly as written (compressed bytes, not their content)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

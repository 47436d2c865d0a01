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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from audit.exports.columns import Column

FORMATS = ("csv", "jsonl", "parquet")
EXTENSIONS = {"csv": ".csv.gz", "jsonl": ".jsonl.gz", "parquet": ".parquet"}
COMPRESSION = {"csv": "gzip", "jsonl": "gzip", "parquet": "zstd (inside Parquet)"}
# Level 1: on a million rows it is about 2.5x faster than the default 6 for a file ~13% larger.
GZIP_LEVEL = 1
PARQUET_ROW_GROUP_ROWS = 20_000

Row = Sequence[Any]


ARROW_TYPES = {
    "int": pa.int64(),
    "string": pa.string(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "decimal": pa.decimal128(18, 2),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
}


# What the ``arrow`` rendering delivers, where it differs from the stored type.
SOURCE_TYPES = {"timestamp": pa.int64(), "decimal": pa.string()}


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in columns])


class ExportWriter:
    """Base: open ``path``, take chunks of rows (tuples in column order), close."""

    format = ""
    rendering = ""

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
    """Rows arrive already spelled for CSV (the ``text`` rendering of sources.py)."""

    format = "csv"
    rendering = "text"

    def __init__(self, path: Path, columns: Sequence[Column]):
        super().__init__(path, columns)
        self._gzip = gzip.GzipFile(self.path, "wb", compresslevel=GZIP_LEVEL, mtime=0)
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="")
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow([c.name for c in self.columns])

    def write(self, rows: Sequence[Row]) -> None:
        self._csv.writerows(rows)
        self.rows_written += len(rows)

    def close(self) -> None:
        if not self._text.closed:
            self._text.close()


class JsonlWriter(ExportWriter):
    """Rows arrive as one-element tuples holding the finished JSON line."""

    format = "jsonl"
    rendering = "jsonl"

    def __init__(self, path: Path, columns: Sequence[Column]):
        super().__init__(path, columns)
        self._gzip = gzip.GzipFile(self.path, "wb", compresslevel=GZIP_LEVEL, mtime=0)
        self._text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="\n")

    def write(self, rows: Sequence[Row]) -> None:
        self._text.write("\n".join(row[0] for row in rows))
        self._text.write("\n")
        self.rows_written += len(rows)

    def close(self) -> None:
        if not self._text.closed:
            self._text.close()


class ParquetWriter(ExportWriter):
    """Rows arrive in the ``arrow`` rendering: times as epoch microseconds, decimals and JSON
    as text; each buffered chunk becomes one row group, cast to the documented types."""

    format = "parquet"
    rendering = "arrow"

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
        for values, column in zip(zip(*self._buffer, strict=True), self.columns, strict=True):
            target = ARROW_TYPES[column.type]
            source = SOURCE_TYPES.get(column.type, target)
            array = pa.array(values, type=source)
            arrays.append(array if source == target else array.cast(target))
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

"""verify_export: offline, it finds a flipped byte, a changed, dropped or swapped row."""

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from audit.services_exports import export_request, export_run

KEY = "test-signing-key"
# "index": 2 in an event's payload, as CSV (doubled quotes) or JSON Lines spell it.
PAYLOAD_INDEX_2 = re.compile(r'index("{1,2}):( ?)2,')
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def exported(sealed_events, compliance_officer):
    def make(fmt):
        export = export_request(
            principal=compliance_officer, kind="events", format=fmt, enqueue=False
        )
        export = export_run(export_id=export.pk)
        return export.file_path, Path(f"{export.file_path}.manifest.json")

    return make


def verify(file, manifest, *extra):
    """Run the command as an auditor would: a fresh process, a database that does not exist."""
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere",
        "EXPORT_SIGNING_KEY": KEY,
        "SECRET_KEY": "auditor",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "verify_export", str(file), str(manifest), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout.strip().splitlines(), done.stderr


def rewrite_lines(path: Path, change) -> None:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        lines = handle.read().splitlines(keepends=True)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write("".join(change(lines)))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_untouched_export_verifies_without_a_database(exported, fmt):
    file, manifest = exported(fmt)
    code, lines, err = verify(file, manifest)
    assert code == 0, (lines, err)
    rows = json.loads(manifest.read_text())["row_count"]
    assert len(lines) == 1 and lines[0].startswith(f"OK: {rows} row(s)")
    assert "2 chain(s) recomputed" in lines[0]


def test_a_flipped_byte_in_the_file_is_found(exported):
    file, manifest = exported("csv")
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x01
    file.write_bytes(bytes(data))
    code, lines, _ = verify(file, manifest)
    assert code == 1
    assert lines[0].startswith("sha256: the file's hash is")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_changed_row_is_named_by_its_seq(exported, fmt):
    file, manifest = exported(fmt)
    seq = None

    def change(lines):
        nonlocal seq
        index = next(i for i, line in enumerate(lines) if PAYLOAD_INDEX_2.search(line))
        seq = int(lines[index].split(",")[0].strip('{"seq:'))
        lines[index] = PAYLOAD_INDEX_2.sub(r"index\1:\g<2>9,", lines[index])
        return lines

    rewrite_lines(file, change)
    code, lines, _ = verify(file, manifest)
    assert code == 1
    assert (
        f"seq {seq}: changed (chain loan-default) its content no longer matches its hash" in lines
    )


def test_a_dropped_row_is_named(exported):
    file, manifest = exported("csv")
    dropped = {}

    def change(lines):
        dropped["seq"] = int(lines[5].split(",")[0])
        del lines[5]
        return lines

    rewrite_lines(file, change)
    code, lines, _ = verify(file, manifest)
    assert code == 1
    assert any(
        line.startswith("seq ")
        and "missing (chain loan-default)" in line
        and f"before seq {dropped['seq'] + 1}" in line
        for line in lines
    ), lines
    rows = json.loads(manifest.read_text())["row_count"]
    assert f"row count: the file has {rows - 1} row(s), the manifest says {rows}" in lines


def test_a_swapped_pair_of_rows_is_named(exported):
    file, manifest = exported("jsonl")
    swapped = {}

    def change(lines):
        lines[4], lines[5] = lines[5], lines[4]
        swapped["seq"] = int(lines[5].split(",")[0].split(":")[1])
        return lines

    rewrite_lines(file, change)
    code, lines, _ = verify(file, manifest)
    assert code == 1
    assert any(
        line.startswith(f"seq {swapped['seq']}: out of order (chain loan-default)")
        for line in lines
    ), lines
    # Nothing is missing: the pair is only in the wrong order, and the report says just that.
    assert not any("missing" in line for line in lines), lines


def test_a_row_dropped_from_a_parquet_file_is_found(exported):
    file, manifest = exported("parquet")
    table = pq.read_table(file)
    kept = table.take([i for i in range(table.num_rows) if i != 6])
    pq.write_table(kept, file, compression="zstd")
    code, lines, _ = verify(file, manifest)
    assert code == 1
    # Row 0 is the _global chain's event; row 6 is position 6 of loan-default.
    assert any("missing (chain loan-default) positions 6..6" in line for line in lines), lines


def test_a_changed_manifest_or_a_wrong_key_fails_the_signature(exported):
    file, manifest = exported("csv")
    code, lines, _ = verify(file, manifest, "--key", "not the key")
    assert code == 1 and lines[0].startswith("signature: the manifest's signature does not match")

    rows = json.loads(manifest.read_text())["row_count"]
    manifest.write_text(
        manifest.read_text().replace(f'"row_count": {rows}', f'"row_count": {rows - 1}')
    )
    code, lines, _ = verify(file, manifest)
    assert code == 1
    assert lines[0].startswith("signature:")
    assert f"row count: the file has {rows} row(s), the manifest says {rows - 1}" in lines


def test_a_missing_file_is_one_clear_line(tmp_path, capsys, settings):
    manifest = tmp_path / "m.json"
    manifest.write_text("{}")
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_export", str(tmp_path / "none.csv.gz"), str(manifest), key=KEY)
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "does not exist" in out and "Traceback" not in out

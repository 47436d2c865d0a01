"""The intake writes predictions with raw SQL for speed; it must write every column."""

from reviewapp.models import Prediction
from reviewapp.services import prediction_rows

FIXED = {"model_id", "received_at", "is_shadow", "submitted_by_key_id"}


def columns():
    return {f.column for f in Prediction._meta.concrete_fields if not f.primary_key}


def test_the_portable_insert_writes_every_column():
    written = {Prediction._meta.get_field(name).column for name in prediction_rows._INSERT_FIELDS}
    assert written == columns()


def test_the_postgresql_insert_writes_every_column():
    written = {column for column, _, _ in prediction_rows._UNNEST_COLUMNS} | FIXED
    assert written == columns()

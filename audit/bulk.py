"""Bulk writes for the two write-heavy paths: the intake and the audit trail.

On PostgreSQL rows go in with COPY (the fastest way in, several times Django's
``bulk_create`` on this kind of row); elsewhere (the SQLite demo) with ``bulk_create``.
JSON columns are written as the JSON text ``json.dumps`` makes, which is what the ORM
stores too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection, models

SMALL_INSERT_ROWS = 20


def _copy_value(field: models.Field, value):
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=field.encoder, ensure_ascii=False)
    return value


def copy_insert(objs: Sequence[models.Model]) -> None:
    """INSERT new ``objs`` with every column (ids from the sequence); nothing is returned.

    Every concrete field is written from the instance, so Python-side defaults apply exactly
    as they would with ``save()``.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=1000)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    copy_rows(
        model,
        [f.column for f in fields],
        ([_copy_value(f, getattr(obj, f.attname)) for f in fields] for obj in objs),
    )


def copy_rows(model: type[models.Model], columns: Sequence[str], rows) -> None:
    """Insert plain tuples into ``model``'s table (PostgreSQL only): the hot path that skips
    building model instances. ``rows`` hold database-ready values in ``columns`` order.

    COPY costs extra round trips to start and finish, so a handful of rows (the single
    prediction endpoint) goes in as one multi-row INSERT instead.
    """
    rows = list(rows)
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column_sql = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if len(rows) <= SMALL_INSERT_ROWS:
            placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
            cursor.execute(
                f"INSERT INTO {table} ({column_sql}) VALUES "
                + ", ".join([placeholders] * len(rows)),
                [value for row in rows for value in row],
            )
            return
        with cursor.cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

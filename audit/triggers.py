"""The database's own guard on the audit trail: triggers that make audit rows append-only.

UPDATE is allowed once per event row and only to fill the chain fields the sealer computes;
every other UPDATE, every DELETE and (PostgreSQL) TRUNCATE raises an error, whoever sends it.

Migration 0002 installs them, and so does every ``migrate`` afterwards (``AuditConfig`` runs
``append_only_triggers_install`` on ``post_migrate``): SQLite rebuilds a table to alter it
and drops its triggers with the old table, so a later migration touching an audit table
would otherwise leave the demo database unguarded without a word.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

CONTENT_COLUMNS = [
    "id", "occurred_at", "actor_type", "actor_id", "actor_label", "action", "object_type",
    "object_id", "model_id", "chain", "payload",
]  # fmt: skip
CHAIN_COLUMNS = ["position", "prev_seq", "prev_hash", "hash", "sealed_at"]
TABLES = ("audit_auditevent", "audit_auditcheckpoint")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    -- Nested IFs: PL/pgSQL does not promise to short-circuit AND, and other tables
    -- guarded by this function have no hash column.
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_auditevent' THEN
        IF OLD.hash IS NULL AND NEW.hash IS NOT NULL
           AND (to_jsonb(NEW) - ARRAY[{chain}]) = (to_jsonb(OLD) - ARRAY[{chain}]) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
""".format(chain=", ".join(f"'{c}'" for c in CHAIN_COLUMNS))

PG_TRIGGERS = {
    "audit_event_append_only": "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE "
    "ON audit_auditevent FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    "audit_event_no_truncate": "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE "
    "ON audit_auditevent FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    "audit_checkpoint_append_only": "CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE "
    "OR DELETE ON audit_auditcheckpoint FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    "audit_checkpoint_no_truncate": "CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE "
    "ON audit_auditcheckpoint FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
}

_unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in CONTENT_COLUMNS)


def _sqlite_refusal(operation: str, table: str) -> str:
    return (
        f"BEGIN SELECT RAISE(ABORT, 'audit records are append-only: {operation} on {table} "
        "is refused'); END"
    )


SQLITE_TRIGGERS = {
    "audit_event_no_update": "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON "
    f"audit_auditevent WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL AND {_unchanged}) "
    + _sqlite_refusal("UPDATE", "audit_auditevent"),
    "audit_event_no_delete": "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON "
    "audit_auditevent " + _sqlite_refusal("DELETE", "audit_auditevent"),
    "audit_checkpoint_no_update": "CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON "
    "audit_auditcheckpoint " + _sqlite_refusal("UPDATE", "audit_auditcheckpoint"),
    "audit_checkpoint_no_delete": "CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON "
    "audit_auditcheckpoint " + _sqlite_refusal("DELETE", "audit_auditcheckpoint"),
}


def _expected(vendor: str) -> dict[str, str]:
    if vendor == "postgresql":
        return PG_TRIGGERS
    if vendor == "sqlite":
        return SQLITE_TRIGGERS
    raise RuntimeError(f"Countersign's audit triggers support PostgreSQL and SQLite, not {vendor}.")


def append_only_triggers_present(connection) -> set[str]:
    """Names of the audit triggers the database has now."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid IN ('audit_auditevent'::regclass, 'audit_auditcheckpoint'::regclass)"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
                list(TABLES),
            )
        return {row[0] for row in cursor.fetchall()}


def append_only_triggers_install(connection) -> list[str]:
    """Create whichever audit triggers are missing; returns their names (empty when none
    were). Safe to run any number of times."""
    expected = _expected(connection.vendor)
    if not set(TABLES) <= set(connection.introspection.table_names()):
        return []  # audit's tables are not there (yet, or any more): nothing to guard
    missing = [name for name in expected if name not in append_only_triggers_present(connection)]
    if not missing:
        return []
    # A raw cursor: the PL/pgSQL body has '%' placeholders of its own.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTION)
        for name in missing:
            cursor.execute(expected[name])
    return missing


def append_only_triggers_restore(*, using: str = "default", **_kwargs) -> None:
    """``post_migrate`` receiver: put back triggers a migration dropped, and say so."""
    from django.db import connections

    restored = append_only_triggers_install(connections[using])
    if restored:
        logger.warning(
            "audit: restored append-only triggers that were missing on %s: %s",
            using,
            ", ".join(restored),
        )

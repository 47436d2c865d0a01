"""django-q2 tasks of the audit app: thin, idempotent, calling services."""

from audit.services import audit_chains_seal


def seal_audit_chains() -> str:
    results = audit_chains_seal()
    return ", ".join(f"{r.chain}+{r.sealed}" for r in results) or "nothing to seal"


def run_export(export_id: int) -> str:
    from audit.services_exports import export_run

    export = export_run(export_id=export_id)
    return f"export {export.pk}: {export.status}, {export.rows_done} row(s)"


def monthly_exports() -> str:
    from audit.services_exports import exports_monthly_run

    exports = exports_monthly_run()
    return f"{len(exports)} monthly export(s) written"

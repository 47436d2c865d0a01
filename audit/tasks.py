"""django-q2 tasks of the audit app: thin, idempotent, calling services."""

from audit.services import audit_chains_seal


def seal_audit_chains() -> str:
    results = audit_chains_seal()
    return ", ".join(f"{r.chain}+{r.sealed}" for r in results) or "nothing to seal"

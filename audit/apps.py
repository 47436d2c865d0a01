from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from audit import checks  # noqa: F401 - registers the deployment checks
        from audit.triggers import append_only_triggers_restore

        post_migrate.connect(append_only_triggers_restore, sender=self)

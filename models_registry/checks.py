"""Deployment checks (``manage.py check --deploy``) for settings whose defaults suit the
local demo and quietly fail people in production: who can read /metrics, where e-mailed
links point, and whether owners get their e-mail at all."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


@register(Tags.security, deploy=True)
def metrics_token_check(app_configs=None, **kwargs) -> list[Warning]:
    if settings.METRICS_TOKEN:
        return []
    return [
        Warning(
            "METRICS_TOKEN is not set: /metrics answers anyone.",
            hint="Set METRICS_TOKEN and give it to the Prometheus scraper; without it anyone who "
            "reaches the server reads every model's slug, queue depth and open alerts.",
            id="models_registry.W001",
        )
    ]


@register(deploy=True)
def owner_notifications_check(app_configs=None, **kwargs) -> list[Warning]:
    warnings = []
    if (urlsplit(settings.SITE_URL).hostname or "") in LOCAL_HOSTS:
        warnings.append(
            Warning(
                f"SITE_URL is {settings.SITE_URL}.",
                hint="Set SITE_URL to the address people use: links in owners' e-mails and "
                "training-label URIs are built on it.",
                id="models_registry.W002",
            )
        )
    if settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
        warnings.append(
            Warning(
                "EMAIL_BACKEND writes e-mail to the console.",
                hint="Set EMAIL_URL (smtp+tls://user:password@host:587) so owners, approvers "
                "and backup owners receive alerts, escalations and sign-off requests.",
                id="models_registry.W003",
            )
        )
    return warnings

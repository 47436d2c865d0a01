"""Service keys on the REST API: ``Authorization: Bearer <key>``."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from models_registry import keys
from models_registry.models import ServiceKey

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ServicePrincipal:
    """Stands in for ``request.user`` when a program calls with a service key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, key: ServiceKey):
        self.key = key

    def __str__(self) -> str:
        return f"service key {self.key.name}"

    def get_username(self) -> str:
        return str(self)


class ServiceKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <key>'."
            )
        try:
            secret = header[1].decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed("The service key is not valid text.") from error
        key = (
            ServiceKey.objects.filter(key_hash=keys.hash_secret(secret))
            .prefetch_related("ml_models")
            .first()
        )
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown service key.")
        if key.is_revoked:
            raise exceptions.AuthenticationFailed("This service key has been revoked.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ServiceKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return ServicePrincipal(key), key

    def authenticate_header(self, request) -> str:
        return self.keyword


class ServiceKeyScheme(OpenApiAuthenticationExtension):
    """Describes service keys in the OpenAPI schema."""

    target_class = ServiceKeyAuthentication
    name = "ServiceKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A service key made with `manage.py create_service_key`; "
            "send it as `Authorization: Bearer <key>`.",
        }

"""Service keys on the REST API: ``Authorization: Bearer <key>``."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from models_registry import keys
from models_registry.models import MLModel, ServiceKey

LAST_USED_RESOLUTION = timedelta(minutes=1)
KEY_CACHE_SECONDS = 5.0

_seen: dict[str, tuple[float, ServiceKey]] = {}


def _recently_seen(key_hash: str) -> ServiceKey | None:
    """The key with this hash, with its models, looked up at most every few seconds.

    Every intake request authenticates; keeping a key for ``KEY_CACHE_SECONDS`` saves two
    queries per request. A revocation takes effect at once in the process that revokes and
    within those seconds in every other worker.
    """
    now = time.monotonic()
    hit = _seen.get(key_hash)
    if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
        return hit[1]
    models = Prefetch("ml_models", MLModel.objects.select_related("owner", "backup_owner"))
    key = ServiceKey.objects.filter(key_hash=key_hash).prefetch_related(models).first()
    if key is not None:
        if len(_seen) > 1000:
            _seen.clear()
        _seen[key_hash] = (now, key)
    else:
        _seen.pop(key_hash, None)
    return key


def forget_key(key_hash: str) -> None:
    _seen.pop(key_hash, None)


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
        key = _recently_seen(keys.hash_secret(secret))
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown service key.")
        if key.is_revoked:
            raise exceptions.AuthenticationFailed("This service key has been revoked.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ServiceKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
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

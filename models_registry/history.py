"""Who simple-history records as the author of a change.

Its middleware reads ``request.user``; on the API that can be a service key's principal,
which is not a User row. History then records no user, and the audit event written by the
service carries the attribution (DESIGN invariant 7).
"""

from django.contrib.auth import get_user_model


def history_user(instance, request, **kwargs):
    explicit = getattr(instance, "_history_user", None)
    if explicit is not None:
        return explicit
    user = getattr(request, "user", None) if request is not None else None
    if isinstance(user, get_user_model()) and user.is_authenticated:
        return user
    return None

"""Who did something: a person, a service key, or the system itself (DESIGN invariant 7)."""

from __future__ import annotations

from dataclasses import dataclass

from audit.models import ActorType


@dataclass(frozen=True)
class Actor:
    type: str
    id: str
    label: str

    @classmethod
    def user(cls, user) -> Actor:
        name = user.get_full_name() if hasattr(user, "get_full_name") else ""
        label = f"{user.get_username()} ({name})" if name else user.get_username()
        return cls(ActorType.USER, str(user.pk), label)

    @classmethod
    def service(cls, key) -> Actor:
        return cls(ActorType.SERVICE, str(key.pk), f"service key {key.name} ({key.prefix}…)")

    @classmethod
    def system(cls, label: str = "countersign") -> Actor:
        return cls(ActorType.SYSTEM, "", f"system: {label}")

    @classmethod
    def anonymous(cls, label: str = "unauthenticated caller") -> Actor:
        return cls(ActorType.SYSTEM, "", label)

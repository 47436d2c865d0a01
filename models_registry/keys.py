"""Service key secrets: generated once, shown once, stored only as a SHA-256.

Keys are 256 random bits, so a fast hash is safe (no dictionary to attack) and lets the API
find a key with one indexed lookup per request.
"""

import hashlib
import secrets

PREFIX = "cs_"


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:10]

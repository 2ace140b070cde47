"""Continuation tokens: opaque to callers, checked when they come back.

A page of ``QueryInstances``, ``ListInstanceIds`` or ``QueryEntities`` ends with a token naming
where the next page starts. The token says which listing and which task hub issued it and the key
to continue after, with a checksum, so that a string the emulator never issued (a typo, a token
from another listing or another hub, a truncated copy) is refused with a message saying so instead
of silently answering with some other page. Tokens hold no secret and survive a restart with
``--db``: they are a position, not a capability.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from emulator.errors import InvalidRequest

PREFIX = "dtemu1."
_KEY = b"durabletask-emulator token"
_DIGEST = 8

#: What each listing is called in an error message.
INSTANCES = "QueryInstances"
INSTANCE_IDS = "ListInstanceIds"
ENTITIES = "QueryEntities"
ENTITY_STORAGE = "CleanEntityStorage"


def _digest(body: bytes) -> bytes:
    return hashlib.blake2s(body, digest_size=_DIGEST, key=_KEY).digest()


def encode(listing: str, hub: str, after: str) -> str:
    """The token that continues ``listing`` on ``hub`` after the key ``after``."""
    body = json.dumps([listing, hub, after], separators=(",", ":"), ensure_ascii=False).encode()
    return PREFIX + base64.urlsafe_b64encode(body + _digest(body)).rstrip(b"=").decode()


def decode(listing: str, hub: str, token: str | None) -> str | None:
    """The key a token continues after; None for no token (the first page). InvalidRequest if not ours."""
    if not token:
        return None
    shown = token if len(token) <= 40 else token[:37] + "..."
    hint = "pass back the continuation token of the previous page unchanged, or none for the first page"
    if not token.startswith(PREFIX):
        raise InvalidRequest(f"{listing}: '{shown}' is not a continuation token this emulator issued; {hint}")
    text = token[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    body, digest = raw[:-_DIGEST], raw[-_DIGEST:]
    if len(raw) <= _DIGEST or _digest(body) != digest:
        raise InvalidRequest(f"{listing}: continuation token '{shown}' is damaged (checksum mismatch); {hint}")
    issued_for, issued_hub, after = json.loads(body)
    if issued_for != listing:
        raise InvalidRequest(f"{listing}: the continuation token was issued by {issued_for}, not by {listing}")
    if issued_hub != hub:
        raise InvalidRequest(
            f"{listing}: the continuation token was issued for task hub '{issued_hub}', not for '{hub}'"
        )
    return after

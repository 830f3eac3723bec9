"""The token format: `adst_<key_id>_<secret>`, and its digest.

`adst_` makes a leaked token easy to recognise (secret scanners, log greps); `key_id` (12 hex
digits) is public and finds the row; `secret` (32 random bytes, URL-safe base64) is the part
that matters. Every character is a valid HTTP token character, so the whole token can travel in
`Authorization: Bearer` and as a `Sec-WebSocket-Protocol` value.
"""

import hashlib
import hmac
import re
import secrets

PREFIX = "adst_"
FORMAT = re.compile(r"adst_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


def generate() -> tuple[str, str]:
    """A new token and its key id."""
    key_id = secrets.token_hex(6)
    return f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}", key_id


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def key_id_of(token: str) -> str | None:
    """The key id of a well-formed token; None for anything else."""
    match = FORMAT.fullmatch(token)
    return match.group(1) if match else None


def matches(token: str, stored_digest: str) -> bool:
    """Whether `token` is the one `stored_digest` was made from, in constant time."""
    return hmac.compare_digest(digest(token), stored_digest)

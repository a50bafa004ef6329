"""The shared webhook secret: where a request carries it, and constant-time checking."""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
from base64 import b64decode
from collections.abc import Iterable, Mapping, Sequence

TOKEN_PARAMETER = "token"  # noqa: S105 - a parameter name, not a secret
# The keys of the secret's JSON that hold valid tokens: the current one and, during a rotation,
# the previous one (or a list).
TOKEN_KEYS = ("token", "previous_token", "previous", "tokens")
_MAX_CANDIDATES = 4


class WebhookSecrets:
    """The tokens valid right now (several during a rotation)."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = tuple(_digest(token) for token in tokens if token)

    @classmethod
    def from_secret_string(cls, secret_string: str) -> WebhookSecrets:
        """The values of the named keys of a JSON object (TOKEN_KEYS: a string, or a list of
        them); a secret that is not a JSON object is one token. Any other key (a note, a user
        name, a rotation date) is never a token."""
        try:
            document = json.loads(secret_string)
        except json.JSONDecodeError:
            return cls([secret_string.strip()])
        if not isinstance(document, dict):
            return cls([secret_string.strip()])
        tokens: list[str] = []
        for key in TOKEN_KEYS:
            value = document.get(key)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    tokens.append(item.strip())
        return cls(tokens)

    def __len__(self) -> int:
        return len(self._digests)

    def admit(self, candidates: Sequence[str]) -> bool:
        """True if any candidate is a valid token. Every comparison runs, whatever matches, and
        compares fixed-length digests, so timing reveals neither which token nor its length."""
        admitted = False
        for candidate in candidates[:_MAX_CANDIDATES]:
            digest = _digest(candidate)
            for valid in self._digests:
                admitted |= hmac.compare_digest(digest, valid)
        return admitted


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def presented_tokens(query: Mapping[str, Sequence[str]], headers: Mapping[str, str]) -> list[str]:
    """`?token=...` values, and the password of HTTP Basic auth (any user name)."""
    tokens = list(query.get(TOKEN_PARAMETER, ()))
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return tokens
        _, colon, password = decoded.partition(":")
        if colon:
            tokens.append(password)
    return tokens

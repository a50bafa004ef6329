"""Typed outcomes the HTTP layer maps to responses in one place."""


class UnusableCallback(Exception):
    """The request was authenticated but its content cannot be used: it is quarantined."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unauthorised(Exception):
    """No valid webhook secret was presented."""


class PayloadTooLarge(Exception):
    """The body exceeds the configured limit."""


class StorageUnavailable(Exception):
    """The event could not be stored durably; the sender must retry."""

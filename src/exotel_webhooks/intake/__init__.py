"""The receiver's path: an HTTP request in, a queued callback or a quarantine record out.

Nothing here imports pydantic: it is the receiver's cold start (tests/unit/test_cold_start.py).
"""

"""Exotel campaign webhooks on AWS (docs/architecture.md).

intake/   the receiver: authenticate, decode, normalise, then enqueue or quarantine
ledger/   the campaign table and what each queued callback does to it, exactly once
reports/  a finished campaign's report: fetched safely into S3, reconciled with the ledger
views/    the read API's answers
"""

"""Exotel campaign webhooks on AWS (docs/architecture.md, "Code layout").

vocabulary.py  the words every part shares: callback types, what "storable" means
normalise.py   names, timestamps, statuses and phone numbers in their normal form
intake/        the receiver: authenticate, decode, normalise, then enqueue or quarantine
ledger/        the campaign table and what each callback, sweep row or report row does to it
reports/       a finished campaign's report: fetched safely into S3, reconciled with the ledger
sweep/         Exotel's Campaign API: campaigns whose callbacks were lost, completed
views/         the read API's answers
"""

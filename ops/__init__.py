"""Operations commands (docs/operations.md, "Operations commands" and "Runbook"), run as
`python -m ops <command>` by the Makefile's targets: logs, redrive, quarantine and replay,
refetch, erase, recount, migrate, smoke, number-hash and sweep."""

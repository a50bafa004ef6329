"""Operations commands (docs/operations.md, "Operations commands" and "Runbook"): logs, DLQ redrive,
quarantine list and replay, report refetch."""

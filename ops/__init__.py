"""Operations commands (README, "Runbook"): logs, DLQ redrive, quarantine list and replay."""

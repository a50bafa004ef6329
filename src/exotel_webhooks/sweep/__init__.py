"""Completing campaigns whose callbacks were lost: Exotel's Campaign API read, and what the
ledger lacks written from it (docs/architecture.md, "Sweeps")."""

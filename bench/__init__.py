"""`make bench`: each module is run as `python -m bench.<name>` from the checkout and appends its
section to docs/benchmarks.md (bench/results.py)."""

"""The analytics dataset: the ledger's stream as rows in S3, for Athena and DuckDB."""

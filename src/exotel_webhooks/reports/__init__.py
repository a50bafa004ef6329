"""A finished campaign's report: fetched without reaching anything internal, streamed into S3,
reconciled with the call schedule callbacks."""

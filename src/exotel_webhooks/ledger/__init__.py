"""The campaign table (table.py owns every key and expression) and the writes that make each
queued callback's effect exactly-once, whatever the delivery order."""

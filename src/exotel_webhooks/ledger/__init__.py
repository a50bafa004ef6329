"""The campaign table (keys.py owns every key, table.py every expression) and the writes that
make each callback's, sweep row's and report row's effect exactly-once, whatever the order."""

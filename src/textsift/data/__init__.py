"""Data in: reading and checking tables, labels, batching, and the built-in dataset catalogue."""

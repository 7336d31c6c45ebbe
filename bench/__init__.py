"""The benchmark: the cost of a call through Patter, measured against the thinnest bridge."""

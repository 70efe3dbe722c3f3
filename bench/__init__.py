"""Benchmarks that print figures; `make bench` runs them all. Never part of `make test`."""

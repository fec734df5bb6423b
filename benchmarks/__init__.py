"""Benchmarks: each module has a main(argv) that prints a table. Run all with `make bench`."""

"""Labelled evaluation sets: reference answers that only the benchmarks read, never a verifier."""

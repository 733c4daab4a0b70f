"""Data sources for the tests (the benchmarks use them too): synthetic squat tracks, Penn Action tracks."""

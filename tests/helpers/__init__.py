"""Data sources for the tests (the benchmarks use them too): synthetic squat tracks, Penn Action tracks;
and stand-ins that run in the web app's worker processes (web_jobs)."""

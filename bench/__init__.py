"""Benchmarks: `python -m bench.roundtrip` (or `make bench`) measures the E2EE command round trip
of the Liaison runtime against a bare matrix-nio echo bot and matrix-reminder-bot, and the
runtime's sustained throughput. Figures go to docs/PERFORMANCE.md."""

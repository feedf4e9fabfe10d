"""Benchmarks: `python -m bench.roundtrip` (or `make bench`) measures the E2EE command round trip
of the Liaison runtime against a bare matrix-nio echo bot and matrix-reminder-bot, and the
runtime's sustained throughput; bench.rooms, bench.discharge, bench.followup and bench.bridge the
bots' own paths; bench.burst a morning's follow-up steps sent, against a bare nio sender. Figures go to docs/PERFORMANCE.md. What they share is in bench/lib/ (the stack
and measures, patient rooms through the API, tables, the report); the dev stack's pieces
(Synapse, mail servers, the E2EE clinician) come from bots/devstack/."""

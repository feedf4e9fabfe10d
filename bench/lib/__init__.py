"""What the benchmarks share: `harness` (the stack: Synapse, bot processes, E2EE clinicians, the
measures: round trips, CPU, memory, other load; the entry point), `rooms` (patient rooms opened
through the provisioning API), `tables` (figures, percentiles and ratios as text and Markdown
tables) and `report` (the machine, the versions, docs/PERFORMANCE.md)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "PERFORMANCE.md"

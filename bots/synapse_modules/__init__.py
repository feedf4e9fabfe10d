"""Modules loaded by Synapse itself (its `modules:` list and user mapping providers), not by the
bots: Synapse runs in the same environment and imports them from here."""

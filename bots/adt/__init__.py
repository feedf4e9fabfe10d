"""The hospital's admission and discharge feed (HL7 v2.5 ADT, IHE PAM France profile; issue 19).

Not a Matrix bot: it will become the `liaison adt` intake process. This slice is its pure core
only: a message read into a `Movement` or refused with a reason (messages.py), the mapping of
its codes to ours (mapping.py), the acknowledgement (ack.py). docs/ADT.md.
"""

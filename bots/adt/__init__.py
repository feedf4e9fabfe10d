"""The hospital's admission and discharge feed (HL7 v2.5 ADT, IHE PAM France profile; issue 19).

The pure core: a message read into a `Movement` or refused with a reason (messages.py), the
mapping of its codes to ours (mapping.py), the acknowledgement (ack.py), the order rows are
applied in (order.py). The intake's recording step (inbox.py) writes rows (models.py) for the
`liaison adt` process; the `adt` bot (bot.py) applies them in the bots process (applier.py).
docs/ADT.md.
"""

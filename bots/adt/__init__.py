"""The hospital's admission and discharge feed (HL7 v2.5 ADT, IHE PAM France profile; issue 19).

The `liaison adt` intake process (process.py) takes the messages in over MLLP (listener.py; who
may send: clients.py), records each once (inbox.py, models.py) and acknowledges it once
committed; the `adt` bot (bot.py) applies the rows in the bots process (applier.py, in the order
of order.py). Its pure core: a message read into a `Movement` or refused with a reason
(messages.py), the mapping of its codes to ours (mapping.py), the acknowledgement (ack.py).
docs/ADT.md.
"""

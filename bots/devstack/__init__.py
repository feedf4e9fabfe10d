"""The dev stack: what runs Liaison on one machine for `liaison up`, the tests and the benchmarks,
never in production.

- `stack`: `liaison up` (Synapse + the bots, optionally Dovecot/Postfix and the bridge);
- `homeserver`: Synapse as child processes (one process, or workers + nginx);
- `mailservers`: private Dovecot and Postfix; `testca`: the CA standing in for IGC-Santé;
- `clinician`: a cross-signed E2EE matrix-nio client, as Element would be; `patients`: made-up
  patients' data (valid INS). Both for the tests and the benchmarks.
"""

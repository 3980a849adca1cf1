"""Writes for the labs app, one module per part of the work:

- orders: ordering, collection, labels, chain of custody, manifests, cancelling;
- results: filing results (from the HL7 adapter or a point-of-care test), review, release,
  critical-result alerts, the interface's error queue.
"""

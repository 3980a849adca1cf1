"""The HL7 v2 adapter: immunization registry reporting over HL7 v2.5.1 and MLLP.

It turns plain data (``vxu``) into VXU^V04 messages that follow the CDC "HL7 Version 2.5.1
Implementation Guide for Immunization Messaging", Release 1.5 (2018 update), reads the
registry's acknowledgements (``ack``) and carries both over MLLP (``mllp``).
``registry_double`` is an in-process registry for tests.

Like the FHIR adapter it sits at the edge: domain apps never import it (an import-linter
contract says so); it depends on plain values handed to it, not on their models.
"""

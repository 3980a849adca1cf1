"""Tamper evidence for the audit trail: each entry's hash covers its content and the previous
entry's hash (a hash chain), so changing or removing any entry breaks every link after it.
Pure functions; ONC 170.315(d)(2)/(d)(10) ask for SHA-2 integrity, here SHA-256."""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64


def canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def link_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"|" + canonical(fields)).hexdigest()

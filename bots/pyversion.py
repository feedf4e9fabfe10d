"""The Python patch level production needs: the bridge reads and writes mail (`email`) and
unpacks IHE XDM archives (`zipfile`), whose security fixes land in patch releases.

- CVE-2024-0450 (zipfile, overlapping entries: zip bombs): fixed in 3.11.8.
- CVE-2024-6923 (email, newlines in headers: header injection): fixed in 3.11.10, and its
  BytesGenerator half (CVE-2026-1299) in 3.11.15 / 3.12.13 / 3.13.12 / 3.14.3.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

# The first release of each series with all of the above.
MINIMUM: dict[tuple[int, int], tuple[int, int, int]] = {
    (3, 11): (3, 11, 15), (3, 12): (3, 12, 13), (3, 13): (3, 13, 12), (3, 14): (3, 14, 3)}


def required(version: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """The patch level this Python should be brought to, or None when it is recent enough (or
    a series newer than those listed)."""
    minimum = MINIMUM.get(version[:2])
    return minimum if minimum is not None and version < minimum else None


def warn_if_outdated() -> None:
    version = tuple(sys.version_info[:3])
    minimum = required(version)  # type: ignore[arg-type]
    if minimum is not None:
        log.warning("this Python lacks security fixes of the email and zipfile modules; "
                    "production needs at least the version given (see docs/OPERATIONS.md)",
                    extra={"python": ".".join(map(str, version)),
                           "minimum": ".".join(map(str, minimum))})

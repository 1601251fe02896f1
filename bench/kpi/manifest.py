"""The names of the entity manifest's objects (LAKE/entities/_manifest/), for the bench scripts
that read the lake from outside: bench/kpi/entities.py and bench/live/live.py."""

from __future__ import annotations


def manifest_key(name: str) -> int | None:
    """The events version of manifest object `name` (`<version>-<time>.json`), or None when
    the file is not a manifest object (engine/src/entity/manifest.rs: manifest_version)."""
    if not name.endswith(".json"):
        return None
    version, sep, at = name[: -len(".json")].partition("-")
    if not sep or not all(s.isascii() and s.isdigit() for s in (version, at)):
        return None
    return int(version)

"""``discover scan``: sample every source and report the personal data its mapping misses.

Per source: every sampled place judged by :func:`~discover.discovery.detect.detect`,
whether the mapping maps it, and a coverage figure (mapped places of personal data
over all places of personal data). A source that cannot be read is named with its
error; its findings are unknown, never "none".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors import load_mapping
from connectors.sampling import SampledField, sampler
from discover.config import shipped_path
from discover.discovery.detect import Detection, detect
from discover.errors import ConfigError, SourceError
from discover.identifiers import IDENTIFIER_TYPES, try_normalise
from discover.register import Register, default_register
from discover.sources import SourceConfig, SourcesConfig

log = logging.getLogger(__name__)

DEFAULT_SAMPLE = 200
#: the mapping a kind is sampled with while the source has none of its own
UNMAPPED_DEFAULTS: dict[str, tuple[str, ...]] = {"voip": ("voip", "provisioning.yaml")}
#: share of a mapped column's values that must parse as its declared type
MIN_PARSED = 0.8


@dataclass(frozen=True, slots=True)
class Finding:
    """A place that holds personal data (or whose declared type its values do not fit)."""

    location: str
    field: str
    detection: Detection | None
    sampled: int
    mapped: bool
    mapped_as: str | None
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found = self.detection
        return {
            "location": self.location,
            "field": self.field,
            "type": found.type if found else None,
            "confidence": found.confidence if found else None,
            "special": found.special if found else False,
            "by": found.by if found else None,
            "examples": list(found.examples) if found else [],
            "sampled": self.sampled,
            "mapped": self.mapped,
            "mapped_as": self.mapped_as,
            "warning": self.warning,
        }


@dataclass(slots=True)
class SourceScan:
    """What one source's scan found."""

    name: str
    kind: str
    findings: list[Finding] = field(default_factory=list)
    places: int = 0
    error: str | None = None
    malformed: bool = False

    @property
    def personal(self) -> list[Finding]:
        return [f for f in self.findings if f.detection is not None]

    @property
    def unmapped(self) -> list[Finding]:
        return [f for f in self.personal if not f.mapped]

    @property
    def coverage(self) -> float | None:
        personal = self.personal
        if self.error or not personal:
            return None
        return round(sum(f.mapped for f in personal) / len(personal), 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.name,
            "kind": self.kind,
            "error": self.error,
            "places": self.places,
            "personal": len(self.personal),
            "unmapped": len(self.unmapped),
            "coverage": self.coverage,
            "findings": [f.as_dict() for f in self.findings],
        }


def declared_mismatch(place: SampledField) -> str | None:
    """A warning when a mapped place's values do not parse as its declared identifier type.

    A column of full phone numbers declared ``extension`` would otherwise be searched
    for nothing: the search drops what it cannot normalise.
    """
    kind = place.declared
    if not kind or kind not in IDENTIFIER_TYPES or place.secret or not place.values:
        return None
    if not place.verbatim:
        return None
    values = place.values
    where = f"{place.location}.{place.field}"
    guess = detect(place.field, values)
    looks = guess.type if guess is not None and guess.by == "content" else None
    if kind == "extension" and looks == "phone":
        return (
            f"{where}: declared 'extension', but its values are full phone numbers "
            f"(e.g. {', '.join(guess.examples)}); declare it 'phone'"
        )
    parsed = sum(try_normalise(kind, v) is not None for v in values)
    if parsed / len(values) >= MIN_PARSED:
        return None
    hint = f"; they look like {looks} values" if looks and looks != kind else ""
    return (
        f"{where}: declared {kind!r}, but {len(values) - parsed} of {len(values)} "
        f"sampled values do not parse as {kind}{hint}"
    )


def judge(places: Sequence[SampledField]) -> list[Finding]:
    """The findings among sampled places: personal data, and declared types that do not fit."""
    findings: list[Finding] = []
    for place in places:
        detection = None if place.secret else detect(place.field, place.values)
        warning = declared_mismatch(place)
        if detection is None and warning is None:
            continue
        findings.append(
            Finding(
                location=place.location,
                field=place.field,
                detection=detection,
                sampled=len(place.values),
                mapped=place.mapped is not None,
                mapped_as=place.declared,
                warning=warning,
            )
        )
    return findings


def sample_source(source: SourceConfig, register: Register, rows: int) -> list[SampledField]:
    """Sample one source with its mapping (ConfigError for a malformed mapping).

    A source whose mapping file does not exist yet is sampled without one: everything
    it holds is unmapped, which is where a new source starts.
    """
    if not source.mapping_path.is_file():
        model = None
        if source.kind in UNMAPPED_DEFAULTS:  # files are recognised by a mapping's formats
            model = load_mapping(shipped_path(*UNMAPPED_DEFAULTS[source.kind]), register).model
        places = sampler(source.kind)(source, model, rows)
        for place in places:
            place.mapped = place.declared = None
        return places
    loaded = load_mapping(
        source.mapping_path, register, expected_kind=source.kind, overrides=source.overrides
    )
    return sampler(source.kind)(source, loaded.model, rows)


def scan_source(source: SourceConfig, register: Register, rows: int) -> SourceScan:
    """Scan one source; its failure is recorded, never raised."""
    result = SourceScan(source.name, source.kind)
    try:
        places = sample_source(source, register, rows)
    except (SourceError, ConfigError) as exc:
        result.error = exc.message if isinstance(exc, SourceError) else str(exc)
        result.malformed = isinstance(exc, ConfigError)
        log.warning("source %s could not be scanned: %s", source.name, result.error)
        return result
    result.places = len(places)
    result.findings = judge(places)
    return result


def scan(
    sources: SourcesConfig,
    *,
    only: str | None = None,
    rows: int = DEFAULT_SAMPLE,
    register: Register | None = None,
) -> list[SourceScan]:
    """Scan every source of ``sources`` (or the one named ``only``)."""
    register = register or default_register()
    chosen = [s for s in sources.sources if only is None or s.name == only]
    if only is not None and not chosen:
        known = ", ".join(s.name for s in sources.sources)
        raise ConfigError(
            sources.path.name, "sources", f"no source named {only!r} (one of {known})"
        )
    return [scan_source(source, register, rows) for source in chosen]

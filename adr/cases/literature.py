"""A literature report's citation: what it needs, its DOI, and its Vancouver text (E2B C.4.r.1)."""

from __future__ import annotations

import re
from typing import Any

EARLIEST_YEAR = 1800
FIELDS = ("authors", "title", "journal", "year", "volume", "pages", "doi")
# What makes a literature case checkable: the article can be found from these alone.
REQUIRED = ("authors", "title", "journal", "year")
REFERENCE_MAX = 500  # ICH's length of C.4.r.1
DOI = re.compile(r"10\.[0-9]+/\S+")
DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
AUTHOR_SEPARATOR = re.compile(r"[,，、;；]|\s+(?:and|et al)\b")


def bare_doi(text: Any) -> Any:
    """Return a DOI without the prefix it may be pasted with (https://doi.org/, doi:); None
    when nothing is left."""
    if not isinstance(text, str):
        return text
    return DOI_PREFIX.sub("", text.strip(), count=1).strip() or None


def is_doi(text: str) -> bool:
    """Tell whether `text` is a bare DOI: 10.<digits>/<anything but spaces>."""
    return DOI.fullmatch(text) is not None


def citation(report: Any) -> dict[str, Any]:
    """Return a report's citation, by field name."""
    return {name: getattr(report, f"literature_{name}", None) for name in FIELDS}


def cites(report: Any) -> bool:
    """Tell whether a report carries any of a citation."""
    return any(value not in (None, "") for value in citation(report).values())


def missing(report: Any) -> list[str]:
    """Return the required parts of a citation the report lacks."""
    cited = citation(report)
    return [name for name in REQUIRED if cited[name] in (None, "")]


def first_author(authors: str) -> str:
    """Return the first of the authors as printed (Zhang W, Li X → Zhang W)."""
    return AUTHOR_SEPARATOR.split(authors.strip(), maxsplit=1)[0].strip()


def vancouver(report: Any) -> str:
    """Return the citation in the Vancouver style: authors. title. journal. year;volume:pages.
    doi:…, leaving out the parts not given."""
    cited = citation(report)

    def sentence(part: str) -> str:
        part = part.strip().rstrip(".").rstrip()
        return part if part.endswith(("?", "!", "？", "！")) else part + "."

    text = " ".join(
        sentence(cited[name]) for name in ("authors", "title", "journal") if cited[name]
    )
    issue = "".join(
        (
            str(cited["year"] or ""),
            f";{cited['volume']}" if cited["volume"] else "",
            f":{cited['pages']}" if cited["pages"] else "",
        )
    )
    if issue:
        text += f" {issue.lstrip(';:')}."
    if cited["doi"]:
        text += f" doi:{cited['doi']}"
    return text.strip()

"""The HL7 v3 pieces every E2B(R3) builder uses: identifiers, values as ICH writes them."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from lxml import etree

from adr import regulatory

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"h": HL7, "xsi": XSI}

ICH_ID = "2.16.840.1.113883.3.989.2.1.3."  # + n: ICH identifier roots
ICH_CODES = "2.16.840.1.113883.3.989.2.1.1."  # + n: ICH code lists
CL19 = ICH_CODES + "19"  # ICH observation codes (NMPA's CN-n codes too)
MEDDRA = "2.16.840.1.113883.6.163"
COUNTRY = "1.0.3166.1.2.2"
SEX = {"male": "1", "female": "2"}  # D.5 and D.10.6, ISO 5218

INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean(text: str | None) -> str:
    """Return text XML 1.0 can carry: its invalid control characters removed."""
    return INVALID_XML_CHARS.sub("", text or "")


def number(value: float) -> str:
    """Return a number as E2B writes it: no exponent, no trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def day(value: date) -> str:
    """Return a date as CCYYMMDD, the year in four digits whatever the platform's strftime."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def moment(value: datetime) -> str:
    """Return a time as CCYYMMDDhhmmss+0800 (China time)."""
    china = value.astimezone(regulatory.CHINA)
    return f"{day(china)}{china:%H%M%S}+0800"


def el(parent: Any, tag: str, text: str | None = None, **attributes: str | None) -> Any:
    """Add a child element in the HL7 namespace; `type_` becomes xsi:type, None drops."""
    element = etree.SubElement(parent, f"{{{HL7}}}{tag}")
    for name, value in attributes.items():
        if value is None:
            continue
        if name == "type_":
            element.set(f"{{{XSI}}}type", value)
        else:
            element.set(name.rstrip("_"), value)
    if text is not None:
        element.text = clean(text)
    return element


def code(parent: Any, value: str, system: str, display: str | None = None, **more: str) -> Any:
    return el(parent, "code", code=value, codeSystem=system, displayName=display, **more)


def observation(
    parent: Any,
    relation: str,
    obs_code: str,
    tag: str = "observation",
    display: str | None = None,
    **rel: str,
) -> Any:
    """Add `<relation><observation>` with a CL19 code (or an NMPA CN-n code)."""
    wrapper = el(parent, relation, typeCode=rel.get("typeCode", "SBJ"))
    obs = el(wrapper, tag, classCode="OBS", moodCode="EVN")
    version = {"codeSystemVersion": "1.1"} if obs_code.startswith("CN-") else {}
    code(obs, obs_code, CL19, display, **version)
    return obs


def boolean(parent: Any, value: bool | None, unknown: str = "NI") -> Any:
    """Add a BL value: true/false, or the null flavour `unknown` (NI, UNK) for None."""
    if value is None:
        return el(parent, "value", type_="BL", nullFlavor=unknown)
    return el(parent, "value", type_="BL", value="true" if value else "false")


def quantity(parent: Any, value: float, unit: str, tag: str = "value") -> Any:
    """Add a PQ value (xsi:type PQ unless `tag` names an element typed PQ already)."""
    kind = "PQ" if tag == "value" else None
    return el(parent, tag, type_=kind, value=number(value), unit=unit)


def add_name(parent: Any, name: str | None, shown: str | None, part: str | None = None) -> None:
    """Add a name as shown; withheld (given, not shown) is nullFlavor MSK, not given is UNK."""
    if shown:
        element = el(parent, "name")
        if part:
            el(element, part, shown)
        else:
            element.text = clean(shown)
    else:
        el(parent, "name", nullFlavor="MSK" if regulatory.identifies(name) else "UNK")


def organizer(role: Any, organizer_code: str, display: str) -> Any:
    """Add a patient's or parent's `subjectOf2/organizer` of the ICH grouping list (.1.1.20)."""
    grouping = el(
        el(role, "subjectOf2", typeCode="SBJ"), "organizer", classCode="CATEGORY", moodCode="EVN"
    )
    code(grouping, organizer_code, ICH_CODES + "20", display)
    return grouping


def component_observation(grouping: Any) -> Any:
    """Add a `component/observation` to an organizer."""
    return el(
        el(grouping, "component", typeCode="COMP"), "observation", classCode="OBS", moodCode="EVN"
    )

"""What the PDF tests need from the system: WeasyPrint with Pango, and poppler-utils to read back.

Found without importing WeasyPrint, so that every test process does not pay for it.
"""

from __future__ import annotations

import importlib.util
import shutil
from ctypes.util import find_library


def missing() -> str | None:
    """Return why PDFs cannot be made and read back here, or None when they can."""
    if importlib.util.find_spec("weasyprint") is None:
        return "WeasyPrint is not installed (pip install -e .)"
    if not (find_library("pango-1.0") and find_library("pangoft2-1.0")):
        return "Pango not found; Debian's libpango-1.0-0 and libpangoft2-1.0-0 bring it"
    if not all(POPPLER.values()):
        return "pdftotext, pdfinfo or pdffonts not found; Debian's poppler-utils brings them"
    return None


POPPLER = {tool: shutil.which(tool) for tool in ("pdftotext", "pdfinfo", "pdffonts")}
MISSING = missing()

"""The documents a clone of the repository holds: README's links lead to files in it, and the
architecture page names modules and folders that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "src" / "sitewatch"


def test_readme_says_how_the_pieces_fit_with_a_page_in_the_repository() -> None:
    """README sent new users to ../shared/DESIGN.md, which a clone of the repository does not have."""
    text = README.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text
    links = [t for t in re.findall(r"\]\(([^)#\s]+)", text) if "://" not in t]
    assert "docs/architecture.md" in links
    assert [t for t in links if not (ROOT / t).resolve().is_relative_to(ROOT) or not (ROOT / t).exists()] == []


def test_the_architecture_page_names_modules_that_exist() -> None:
    """Every module and folder of the package the page names in backquotes is there, so a
    module renamed or removed makes the page fail here rather than mislead."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w/]+(?:\*)?(?:\.py|/))`", text)) - {"src/sitewatch/"}
    assert {"ingest.py", "detect/", "analysis/", "report/", "store/", "run.py", "sites.py", "sources/"} <= named
    missing = []
    for name in sorted(named):
        pattern = name.removesuffix("/")
        found = [p for base in (PACKAGE, PACKAGE / "detect", PACKAGE / "sources", PACKAGE / "report", PACKAGE / "store",
                                PACKAGE / "analysis", PACKAGE / "cli", PACKAGE / "web") for p in base.glob(pattern)]  # fmt: skip
        if not found:
            missing.append(name)
    assert missing == [], f"docs/architecture.md names what the package does not hold: {missing}"

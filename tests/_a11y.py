"""Accessibility checks on rendered HTML, with the standard library's parser: what a screen reader,
a keyboard or a colour-blind reader meets, checked without a browser."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    """One element: its tag, attributes, the tags of its ancestors and the text inside it."""

    tag: str
    attrs: dict[str, str]
    # Out of the repr: a failing assertion would print the whole tree through every element.
    ancestors: list[Element] = field(repr=False, compare=False)
    text: list[str] = field(default_factory=list, repr=False, compare=False)
    children: list[Element] = field(default_factory=list, repr=False, compare=False)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def inner_text(self) -> str:
        return " ".join("".join(self.text).split())


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        e = Element(tag, {k: v or "" for k, v in attrs}, list(self.stack))
        if self.stack:
            self.stack[-1].children.append(e)
        self.elements.append(e)
        if tag not in _VOID:
            self.stack.append(e)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        for e in self.stack:
            e.text.append(data)


def elements(html: str) -> list[Element]:
    """Every element of ``html``, in document order."""
    p = _Collector()
    p.feed(html)
    p.close()
    return p.elements


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a ``#rrggbb`` (or ``#rgb``) colour."""
    h = colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(int(h[i:i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio between two colours (1 to 21)."""
    hi, lo = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def doubled_tab_stops(els: list[Element]) -> list[Element]:
    """Focusable elements that are the only child of a focusable box: the keyboard stops twice on one
    thing (a table inside the scroll box that scrolls it)."""
    return [e for e in els if e.attrs.get("tabindex") == "0" and e.ancestors
            and e.ancestors[-1].attrs.get("tabindex") == "0" and len(e.ancestors[-1].children) == 1]  # fmt: skip


def unreachable_scrollers(els: list[Element]) -> list[Element]:
    """Tables and ``.scroll`` boxes the keyboard cannot reach to scroll: a table scrolls sideways on a
    phone or at 200 % zoom unless a scroll box around it does (and takes the focus for it)."""
    def scrolled_by_its_box(e: Element) -> bool:
        return e.tag == "table" and bool(e.ancestors) and "scroll" in e.ancestors[-1].classes

    boxes = [e for e in els if (e.tag == "table" and not scrolled_by_its_box(e)) or "scroll" in e.classes]
    return [e for e in boxes if e.attrs.get("tabindex") != "0"]


def table_problems(els: list[Element]) -> list[str]:
    """What a screen reader's table navigation lacks: a table without a caption to name it (in the list
    of tables, and when it takes focus), a header cell without ``scope`` saying whether it heads a
    column or a row."""
    problems = []
    for e in els:
        if e.tag == "table":
            caption = next((c for c in e.children if c.tag == "caption"), None)
            if caption is None or not caption.inner_text():
                problems.append(f"table without a caption: {e.inner_text()[:60]!r}")
        elif e.tag == "th" and e.attrs.get("scope") not in {"col", "row"}:
            problems.append(f"th without scope: {e.inner_text()[:40]!r}")
    return problems


def unnamed_focus_boxes(els: list[Element]) -> list[Element]:
    """Boxes given ``tabindex="0"`` (to scroll from the keyboard) with nothing for a screen reader to
    call them when they take focus: a table names itself by its caption, a box by its role and label."""
    def named(e: Element) -> bool:
        if e.tag == "table":
            return any(c.tag == "caption" and c.inner_text() for c in e.children)
        return e.attrs.get("role") == "region" and bool(e.attrs.get("aria-label", "").strip())

    return [e for e in els if e.attrs.get("tabindex") == "0" and not named(e)]


def accessible_name(e: Element) -> str:
    """What a screen reader calls a link: its ``aria-label``, else its text (hidden text included)."""
    return " ".join(e.attrs.get("aria-label", "").split()) or e.inner_text()


def links_named_alike(els: list[Element]) -> dict[str, set[str]]:
    """Link names that lead to different places ("the two images" ×20, "supported" ×4): in a screen reader's
    list of links, out of the sentence around them, they cannot be told apart (WCAG 2.4.4, 2.4.9)."""
    targets: dict[str, set[str]] = {}
    for e in els:
        if e.tag == "a" and "href" in e.attrs:
            targets.setdefault(accessible_name(e), set()).add(e.attrs["href"])
    return {name: hrefs for name, hrefs in targets.items() if len(hrefs) > 1}


def style_rules(html: str) -> list[tuple[str, str]]:
    """The (selector, declarations) pairs of the page's ``<style>``, outside and inside ``@media`` blocks."""
    css = re.sub(r"/\*.*?\*/", "", " ".join(re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)), flags=re.S)
    css = re.sub(r"@media[^{]*\{", "", css)
    return [(sel.strip(), body) for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)]


def small_stacked_links(html: str, els: list[Element]) -> list[Element]:
    """Table cells holding links one a line (a ``<br>`` between them) whose links the page's style gives no
    24 px high target: 14 px high and 9 px apart, they are smaller than WCAG 2.2's 24 × 24 (2.5.8), and they
    are not in a sentence, which that criterion excuses."""
    tall: set[str] = set()
    for sel, body in style_rules(html):
        m = re.search(r"min-height:\s*(\d+)px", body)
        if m and int(m.group(1)) >= 24:
            tall |= {s.strip() for s in sel.split(",")}
    def stacked(e: Element) -> bool:
        tags = [c.tag for c in e.children]
        return any(tags[i:i + 3] == ["a", "br", "a"] for i in range(len(tags) - 2))

    cells = [e for e in els if e.tag == "td" and stacked(e)]
    return [e for e in cells if not any(f"td.{c} a" in tall for c in e.classes)]


def links_named_by_a_number(els: list[Element]) -> list[str]:
    """Links a screen reader's list of links calls "1", "#2": nothing said of where they lead."""
    names = [accessible_name(e) for e in els if e.tag == "a" and "href" in e.attrs]
    return [n for n in names if re.fullmatch(r"#?\d+", n)]

"""docs/checks.md read as data: the failure details it documents, as patterns to match."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "checks.md"
#: The checks whose details carry their name (docs/checks.md, "Every check").
NAMES = {"ftp": "FTP", "imap": "IMAP", "imaps": "IMAPS", "nntp": "NNTP", "pop": "POP",
         "pops": "POPS", "smtp": "SMTP", "submission": "SMTP"}
_PLACEHOLDER = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class Entry:
    """One documented detail: the situation, the detail's text, and an example if any."""

    situation: str
    text: str
    example: str = ""

    def pattern(self, name: str | None = None) -> re.Pattern[str]:
        """The text as a pattern (`<...>` matches anything; `<NAME>` is `name`)."""
        text = self.text.replace("<NAME>", name) if name else self.text
        parts = _PLACEHOLDER.split(text)
        return re.compile(".*".join(re.escape(p) for p in parts))

    @property
    def checkable(self) -> bool:
        """Whether the text says more than placeholders and separators (`<type>: <message>`
        would match any detail with a colon)."""
        return bool(re.sub(r"[\s:]", "", _PLACEHOLDER.sub("", self.text)))


def _tables() -> dict[str, list[list[str]]]:
    """Heading -> the body rows of the table under it (cells, stripped)."""
    out: dict[str, list[list[str]]] = {}
    heading = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if cells[0] != "Situation":
                out.setdefault(heading, []).append(cells)
    return out


def _texts(cell: str) -> list[str]:
    """The backticked details of a cell, without the examples after `e.g.`."""
    return re.findall(r"`([^`]+)`", cell.split("e.g.")[0])


@functools.cache
def generic() -> list[Entry]:
    """The rows of "Every check": the toolkit's wording, each with its example."""
    return [Entry(situation, _texts(text)[0], _texts(example)[0])
            for situation, text, example in _tables()["Every check"]]


def _names_service(heading: str, service: str) -> bool:
    return re.search(rf"(?<![\w`]){re.escape(service)}(?![\w`])", heading) is not None


@functools.cache
def own(service: str) -> list[Entry]:
    """The details of `service`'s own section of "Each check"."""
    return [Entry(cells[0], text)
            for heading, rows in _tables().items()
            if heading != "Every check" and _names_service(heading, service)
            for cells in rows for text in _texts(cells[1])]


def documented(service: str, detail: str) -> bool:
    """Whether docs/checks.md lists `detail` for `service`: its own section's, or one of
    every check's (after the check's name, if it has one)."""
    name = NAMES.get(service)
    for entry in own(service):
        if entry.checkable and entry.pattern(name).fullmatch(detail):
            return True
    for entry in generic():
        prefixed = name is not None and not entry.situation.startswith("receive")
        text = detail.removeprefix(f"{name}: ") if prefixed else detail
        if prefixed and text == detail:
            continue
        if entry.checkable and entry.pattern().fullmatch(text):
            return True
    return False

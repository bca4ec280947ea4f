"""A small, dependency-free Markdown -> PDF renderer for the project's documents.

Owns one thing: turning the Markdown we write (headings, paragraphs, bullet lists, tables, code
blocks) into a plain, readable PDF with the 14 standard fonts (Helvetica, Helvetica-Bold, Courier),
so no font is embedded and the text stays searchable. Output is byte-for-byte reproducible: no
timestamps, no compression, objects in a fixed order. Used for `docs/scoping_brief.pdf`
(`python -m glue.pdfdoc docs/scoping_brief.md docs/scoping_brief.pdf`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PAGE_W, PAGE_H = 612.0, 792.0  # US Letter, points
MARGIN = 56.0
BODY, H1, H2, H3, CODE = 10.0, 18.0, 13.5, 11.5, 8.0

# Helvetica glyph widths (1/1000 em) for ASCII 32..126, from the standard AFM metrics.
_HELV = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667,
    556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556,
    556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722,
    500, 500, 500, 334, 260, 334, 584,
]
# Characters outside Latin-1 that our documents use, spelled with ASCII.
_ASCII = {
    "→": "->", "←": "<-", "—": "-", "–": "-", "≥": ">=", "≤": "<=", "×": "x", "…": "...", "σ": "sigma",
    "τ": "tau", "Σ": "Sum", "≈": "~", "±": "+/-", "‘": "'", "’": "'", "“": '"', "”": '"', "•": "-", "✓": "ok",
    "µ": "u", "−": "-", "∞": "inf", "≠": "!=", "·": ".", " ": " ",
}


def ascii_text(text: str) -> str:
    out = "".join(_ASCII.get(ch, ch) for ch in text)
    return out.encode("latin-1", errors="replace").decode("latin-1")


def text_width(text: str, size: float, font: str = "F1") -> float:
    if font == "F3":
        return 0.6 * size * len(text)
    scale = 1.05 if font == "F2" else 1.0
    return sum(_HELV[ord(c) - 32] if 32 <= ord(c) <= 126 else 556 for c in text) * size / 1000.0 * scale


def wrap(text: str, size: float, font: str, width: float) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size, font) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines or [""]


def inline(text: str) -> str:
    """Markdown inline markup -> plain text: links keep their URL, emphasis and code marks go."""
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", text)
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)", r"\1", text)
    return ascii_text(text.replace("`", ""))


class _Layout:
    """Places lines on pages top to bottom; a new page when the next line does not fit."""

    def __init__(self) -> None:
        self.pages: list[list[str]] = [[]]
        self.y = PAGE_H - MARGIN

    def space(self, points: float) -> None:
        self.y -= points

    def line(self, text: str, size: float, font: str = "F1", x: float = MARGIN) -> None:
        lead = size * 1.35
        if self.y - lead < MARGIN:
            self.pages.append([])
            self.y = PAGE_H - MARGIN
        self.y -= lead
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        self.pages[-1].append(f"BT /{font} {size:g} Tf {x:.2f} {self.y:.2f} Td ({safe}) Tj ET")


def layout(markdown: str) -> list[list[str]]:
    lay = _Layout()
    width = PAGE_W - 2 * MARGIN
    lines = markdown.splitlines()
    i = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            for row in wrap(inline(" ".join(paragraph)), BODY, "F1", width):
                lay.line(row, BODY)
            lay.space(4)
            paragraph.clear()

    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if stripped.startswith("```"):
            flush()
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                for row in _hard_wrap(ascii_text(lines[i].rstrip()), int(width / (0.6 * CODE))):
                    lay.line(row, CODE, "F3", MARGIN + 8)
                i += 1
            lay.space(4)
        elif m := re.match(r"^(#{1,3})\s+(.*)", stripped):
            flush()
            size = {1: H1, 2: H2, 3: H3}[len(m.group(1))]
            lay.space(6 if len(m.group(1)) > 1 else 0)
            for row in wrap(inline(m.group(2)), size, "F2", width):
                lay.line(row, size, "F2")
            lay.space(3)
        elif stripped.startswith("|"):
            flush()
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [inline(c.strip()) for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                    for row in _hard_wrap("  ".join(cells), int(width / (0.6 * CODE))):
                        lay.line(row, CODE, "F3")
                i += 1
            lay.space(4)
            continue
        elif m := re.match(r"^(\s*)([-*]|\d+\.)\s+(.*)", raw):
            flush()
            indent = MARGIN + 10 + 10 * (len(m.group(1)) // 2)
            bullet = "-" if m.group(2) in "-*" else m.group(2)
            text = m.group(3)
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip() and not re.match(
                r"^\s*([-*]|\d+\.)\s+", lines[i + 1]
            ):
                i += 1
                text += " " + lines[i].strip()
            rows = wrap(inline(text), BODY, "F1", width - (indent - MARGIN) - 12)
            lay.line(f"{bullet} {rows[0]}", BODY, "F1", indent)
            for row in rows[1:]:
                lay.line(row, BODY, "F1", indent + 10)
        elif not stripped:
            flush()
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return lay.pages


def _hard_wrap(text: str, chars: int) -> list[str]:
    return [text[k : k + chars] for k in range(0, max(len(text), 1), chars)] or [""]


def render_pdf(pages: list[list[str]], title: str) -> bytes:
    """A PDF 1.4 file: catalog, pages, three standard fonts, one content stream per page."""
    objects: list[bytes] = []
    n_pages = len(pages)
    first_page = 7  # 1 catalog, 2 pages, 3-5 fonts, 6 info
    kids = " ".join(f"{first_page + 2 * k} 0 R" for k in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for base in ("Helvetica", "Helvetica-Bold", "Courier"):
        objects.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>".encode())
    safe_title = ascii_text(title).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    objects.append(f"<< /Title ({safe_title}) /Producer (glue.pdfdoc) >>".encode("latin-1"))
    for k, ops in enumerate(pages):
        content = "\n".join([*ops, f"BT /F1 8 Tf {PAGE_W / 2 - 10:.2f} 30 Td (page {k + 1} of {n_pages}) Tj ET"])
        data = content.encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W:g} {PAGE_H:g}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> "
            f"/Contents {first_page + 2 * k + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{num} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def markdown_to_pdf(markdown: str, out: str | Path, title: str | None = None) -> Path:
    """Render Markdown to a PDF file; the title defaults to the first heading."""
    if title is None:
        m = re.search(r"^#\s+(.*)$", markdown, re.M)
        title = inline(m.group(1)) if m else "document"
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_pdf(layout(markdown), title))
    return path


def pdf_text(data: bytes) -> str:
    """The text shown by a PDF written here (the literal strings of its Tj operators), for tests."""
    strings = re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", data)
    return "\n".join(s.decode("latin-1").replace("\\(", "(").replace("\\)", ")").replace("\\\\", "\\")
                     for s in strings)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: python -m glue.pdfdoc IN.md OUT.pdf", file=sys.stderr)
        sys.exit(2)
    print(markdown_to_pdf(Path(sys.argv[1]).read_text(encoding="utf-8"), sys.argv[2]))

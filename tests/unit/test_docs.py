"""The documents: the scoping brief's PDF is generated from its Markdown and has the required
sections; the GenAI appendix has a Prompt / Used in / Verification block per part, naming real tests."""

from __future__ import annotations

import re
from pathlib import Path

from glue.pdfdoc import layout, markdown_to_pdf, pdf_text, render_pdf

REPO = Path(__file__).resolve().parents[2]
BRIEF_SECTIONS = ("Use case", "The 60-second prediction goal", "Success metric", "Risks and assumptions")


def test_scoping_brief_pdf_exists_and_has_the_sections():
    pdf = (REPO / "docs" / "scoping_brief.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    lines = pdf_text(pdf).splitlines()
    for section in BRIEF_SECTIONS:
        assert section in lines, f"section '{section}' missing from docs/scoping_brief.pdf"


def test_scoping_brief_pdf_is_generated_from_the_markdown(tmp_path):
    """Regenerating gives the committed bytes: the PDF never drifts from docs/scoping_brief.md."""
    fresh = markdown_to_pdf((REPO / "docs" / "scoping_brief.md").read_text(encoding="utf-8"), tmp_path / "b.pdf")
    assert fresh.read_bytes() == (REPO / "docs" / "scoping_brief.pdf").read_bytes(), (
        "run: python -m glue.pdfdoc docs/scoping_brief.md docs/scoping_brief.pdf"
    )


def test_pdf_renderer_is_deterministic_and_paginates():
    md = "# Title\n\n" + "\n\n".join(f"Paragraph {i} with (parens) and a backslash \\ here." for i in range(200))
    a, b = render_pdf(layout(md), "t"), render_pdf(layout(md), "t")
    assert a == b and a.count(b"/Type /Page ") > 2
    assert "Paragraph 199 with (parens) and a backslash \\ here." in pdf_text(a)


def test_genai_appendix_has_a_block_per_part_naming_real_tests():
    text = (REPO / "docs" / "genai_appendix.md").read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    assert len(parts) >= 8
    for part in parts:
        title = part.splitlines()[0]
        for field in ("**Prompt (summary)**", "**Used in**", "**Verification**"):
            assert field in part, f"{title}: no {field}"
    for path in set(re.findall(r"`(tests/[\w/]+\.py)`", text)):
        assert (REPO / path).is_file(), f"the appendix names {path}, which does not exist"

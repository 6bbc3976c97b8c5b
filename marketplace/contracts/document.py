"""One source, three outputs that say the same words.

A document's source is text with Jinja conditions and a light structure: ``# Title``, ``## Article``
(numbered "Article 1 — …" in order), ``### Heading``, ``- item`` lists, ``| a | b |`` tables (a
``|---|`` line after the header row), blank lines between paragraphs, ``**bold**``. It is rendered
once, with the answers, into **blocks** (plain JSON); the HTML preview, the DOCX (python-docx) and the
PDF (WeasyPrint, from the HTML) are all made from those blocks, and their hash identifies the text.

Answers are data, never template code: a value cannot open a heading or a table (a line it would
start is escaped), and the HTML escapes everything.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import io
import json
import re
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from marketplace.core import money
from marketplace.core.text import date_fr, format_int_fr

Block = dict[str, Any]


class SourceError(ValueError):
    """A template source that does not render (an operator's new version): said in French."""


class Verbatim(str):
    """Text already made literal (the ``paragraphs`` filter): kept as it is by ``_finalize``."""


# An answer is made literal before it meets the structure: the characters the structure reads are
# swapped for control characters (which cleaned answers never hold) and swapped back in the blocks.
_LITERAL = "\x05"  # "this line starts with an answer, not with a marker"
_SWAP = {"|": "\x03", "*": "\x04", "\\": "\x06"}
_UNSWAP = {v: k for k, v in _SWAP.items()}


def _literal(text: str) -> str:
    for char, code in _SWAP.items():
        text = text.replace(char, code)
    return _LITERAL + text


def _restore(text: str) -> str:
    text = text.replace(_LITERAL, "")
    for code, char in _UNSWAP.items():
        text = text.replace(code, char)
    return text


# Only ASCII blanks are folded: the no-break spaces of French figures ("40 000 €") stay.
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


def _finalize(value: Any) -> Any:
    if isinstance(value, Verbatim):
        return value
    if isinstance(value, str):
        return _literal(_SPACES.sub(" ", value))
    return "" if value is None else value


def _paragraphs(text: Any) -> Verbatim:
    """A multi-line answer as paragraphs of the document, each safe from the structure's markers."""
    parts = [_SPACES.sub(" ", p).strip() for p in re.split(r"\n[ \t]*\n", str(text or "")) if p.strip()]
    return Verbatim("\n\n".join(_literal(p) for p in parts))


def _euros(cents: Any) -> str:
    return "" if cents in (None, "") else f"{money.euros(int(cents))} HT"


def _date(value: Any) -> str:
    if not value:
        return ""
    return date_fr(dt.date.fromisoformat(value) if isinstance(value, str) else value)


_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_finalize,
                            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_env.filters.update(euros=_euros, date_fr=_date, nombre=lambda n: format_int_fr(int(n or 0)), paragraphs=_paragraphs)


@functools.lru_cache(maxsize=64)
def _compiled(source: str):
    """A kit's source compiled once per process (compiling was most of a render's time, the live
    preview's included); a new version of the source is a new key."""
    return _env.from_string(source)


def render_text(source: str, values: dict[str, Any]) -> str:
    try:
        return _compiled(source).render(**values)
    except TemplateError as exc:
        raise SourceError(f"Le modèle ne se rend pas : {exc}") from None


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _runs(text: str) -> list[list[Any]]:
    """'a **b** c' → [["a ", false], ["b", true], [" c", false]]."""
    runs, last = [], 0
    for m in _BOLD.finditer(text):
        if m.start() > last:
            runs.append([text[last:m.start()], False])
        runs.append([m.group(1), True])
        last = m.end()
    if last < len(text):
        runs.append([text[last:], False])
    return runs or [["", False]]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    paragraph: list[str] = []
    article = 0

    def flush():
        if paragraph:
            blocks.append({"t": "p", "runs": _runs(" ".join(paragraph))})
            paragraph.clear()

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip()
        line = raw.strip()
        escaped = line.startswith(_LITERAL)
        if not line:
            flush()
        elif not escaped and line.startswith("# "):
            flush()
            blocks.append({"t": "title", "text": line[2:].strip()})
        elif not escaped and line.startswith("## "):
            flush()
            article += 1
            blocks.append({"t": "article", "n": article, "text": line[3:].strip()})
        elif not escaped and line.startswith("### "):
            flush()
            blocks.append({"t": "heading", "text": line[4:].strip()})
        elif not escaped and line.startswith("- "):
            flush()
            if blocks and blocks[-1]["t"] == "list" and not blocks[-1].get("closed"):
                blocks[-1]["items"].append(_runs(line[2:].strip()))
            else:
                blocks.append({"t": "list", "items": [_runs(line[2:].strip())]})
            i += 1
            continue
        elif not escaped and line.startswith("|"):
            flush()
            header = _cells(line)
            rows = []
            j = i + 1
            if j < len(lines) and re.fullmatch(r"\|?[\s:|-]+\|?", lines[j].strip() or "x"):
                j += 1
            while j < len(lines) and lines[j].strip().startswith("|"):
                rows.append(_cells(lines[j]))
                j += 1
            width = len(header)
            blocks.append({"t": "table", "header": header, "rows": [(r + [""] * width)[:width] for r in rows]})
            i = j
            continue
        else:
            paragraph.append(line)
        if blocks and blocks[-1]["t"] == "list" and (not line or not line.startswith("- ")):
            blocks[-1]["closed"] = True
        i += 1
    flush()
    for block in blocks:
        block.pop("closed", None)
    return _restored(blocks)


def _restored(value: Any) -> Any:
    if isinstance(value, str):
        return _restore(value)
    if isinstance(value, list):
        return [_restored(v) for v in value]
    if isinstance(value, dict):
        return {k: _restored(v) for k, v in value.items()}
    return value


def render(source: str, values: dict[str, Any]) -> list[Block]:
    return parse_blocks(render_text(source, values))


def content_hash(blocks: list[Block]) -> str:
    return hashlib.sha256(json.dumps(blocks, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def plain_text(blocks: list[Block]) -> str:
    """The words of a document, in order (tests and search read it)."""
    out = []
    for b in blocks:
        if b["t"] == "p":
            out.append("".join(t for t, _ in b["runs"]))
        elif b["t"] == "list":
            out += ["- " + "".join(t for t, _ in item) for item in b["items"]]
        elif b["t"] == "table":
            out += [" | ".join(b["header"])] + [" | ".join(r) for r in b["rows"]]
        elif b["t"] == "article":
            out.append(f"Article {b['n']} — {b['text']}")
        else:
            out.append(b["text"])
    return "\n".join(out)


# HTML ---------------------------------------------------------------------------------------------

def _html_runs(runs) -> str:
    return "".join(f"<strong>{html.escape(t)}</strong>" if bold else html.escape(t) for t, bold in runs)


def to_html(blocks: list[Block]) -> str:
    """The document's body (the preview, and the PDF's source)."""
    parts = []
    for b in blocks:
        if b["t"] == "title":
            parts.append(f'<h2 class="passerelle-doc-title">{html.escape(b["text"])}</h2>')
        elif b["t"] == "article":
            parts.append(f'<h3 class="passerelle-doc-article">Article {b["n"]} — {html.escape(b["text"])}</h3>')
        elif b["t"] == "heading":
            parts.append(f'<h4 class="passerelle-doc-heading">{html.escape(b["text"])}</h4>')
        elif b["t"] == "p":
            parts.append(f"<p>{_html_runs(b['runs'])}</p>")
        elif b["t"] == "list":
            parts.append("<ul>" + "".join(f"<li>{_html_runs(item)}</li>" for item in b["items"]) + "</ul>")
        elif b["t"] == "table":
            head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in b["header"])
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in b["rows"])
            parts.append(f'<div class="fr-table"><table tabindex="0"><thead><tr>{head}</tr></thead>'
                         f"<tbody>{body}</tbody></table></div>")
    return "\n".join(parts)


PRINT_CSS = """
@page { size: A4; margin: 2.2cm 2cm; @bottom-right { content: "Page " counter(page) " / " counter(pages);
        font-size: 9pt; color: #555; } }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; line-height: 1.45; color: #161616; }
.passerelle-doc-title { font-size: 17pt; text-align: center; margin: 0 0 1.2em; }
.passerelle-doc-article { font-size: 12pt; margin: 1.4em 0 .5em; page-break-after: avoid; }
.passerelle-doc-heading { font-size: 11pt; margin: 1em 0 .4em; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; font-size: 9.5pt; }
th, td { border: 1px solid #999; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
"""


def html_page(title: str, blocks: list[Block]) -> str:
    return (f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{PRINT_CSS}</style></head><body>{to_html(blocks)}</body></html>")


def to_pdf(title: str, blocks: list[Block]) -> bytes:
    from weasyprint import HTML  # imported when a PDF is asked for: it loads pango, ~0.3 s

    return HTML(string=html_page(title, blocks)).write_pdf()


# DOCX ---------------------------------------------------------------------------------------------

def to_docx(title: str, blocks: list[Block], created: dt.datetime) -> bytes:
    """A Word document with real headings, numbered articles, bullet lists and tables; its properties
    are fixed by the document (title, creation time) so that the same text gives the same file."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    doc.core_properties.title = title[:250]
    doc.core_properties.author = "Passerelle"
    doc.core_properties.created = created.replace(tzinfo=None)
    doc.core_properties.modified = created.replace(tzinfo=None)
    doc.core_properties.revision = 1
    doc.styles["Normal"].font.size = Pt(10.5)

    def add_runs(paragraph, runs):
        for text, bold in runs:
            paragraph.add_run(text).bold = bool(bold)

    for b in blocks:
        if b["t"] == "title":
            doc.add_heading(b["text"], level=0)
        elif b["t"] == "article":
            doc.add_heading(f"Article {b['n']} — {b['text']}", level=1)
        elif b["t"] == "heading":
            doc.add_heading(b["text"], level=2)
        elif b["t"] == "p":
            add_runs(doc.add_paragraph(), b["runs"])
        elif b["t"] == "list":
            for item in b["items"]:
                add_runs(doc.add_paragraph(style="List Bullet"), item)
        elif b["t"] == "table":
            table = doc.add_table(rows=1, cols=len(b["header"]))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, b["header"], strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(text).bold = True
            for row in b["rows"]:
                cells = table.add_row().cells
                for cell, text in zip(cells, row, strict=True):
                    cell.text = text
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()

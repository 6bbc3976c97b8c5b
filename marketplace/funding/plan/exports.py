"""The plan as a spreadsheet (XLSX, openpyxl) and as a document to attach to a file (PDF, reportlab).

Both carry the same content as the page: the lines with what each obtains, every reduction with
its article, the totals (loans apart) and the rules checked. Amounts in the spreadsheet are
numbers in euros (formatted, so they add up in a tableur), not text.

The PDF uses the standard Helvetica fonts with WinAnsi encoding, which has every French letter and
the € sign: no font file to ship or to find on the server. The few characters WinAnsi lacks (the
narrow no-break space of French typography) are mapped to near equivalents; anything else a user
typed outside it shows as '?'.
"""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from xml.sax.saxutils import escape

from marketplace.core.money import euros, euros_decimal, pct, percent
from marketplace.funding.plan.engine import PlanResult

EURO_FORMAT = '#,##0.00\\ "€"'


def _rate_of_eligible(result: PlanResult, cents: int) -> str:
    return pct(percent(cents, result.eligible_cost_ht_cents))


# XLSX ---------------------------------------------------------------------------------------------

def _as_text(book) -> None:
    """Every text written stays text: a title or a label starting with "=" (typed by a person, or by
    another organisation) must never run as a formula in the reader's spreadsheet."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _clean(values: list) -> list:
    # Control characters are not allowed in a workbook's XML: written, they make the file unreadable.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values]


def to_xlsx(title: str, organisation: str, result: PlanResult) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Plan de financement"
    bold = Font(bold=True)
    sheet.append(_clean([title]))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(_clean([organisation]))
    facts = [("Coût du projet HT", euros_decimal(result.cost_ht_cents)),
             ("Dépense éligible HT", euros_decimal(result.eligible_cost_ht_cents)),
             ("Règles en vigueur au", result.on),
             ("Ligne qui cède la première", result.ordering.label)]
    for label, value in facts:
        sheet.append(_clean([label, value]))
        cell = sheet.cell(sheet.max_row, 2)
        if isinstance(value, Decimal):
            cell.number_format = EURO_FORMAT
        elif isinstance(value, dt.date):
            cell.number_format = "DD/MM/YYYY"
        sheet.cell(sheet.max_row, 1).font = bold
    sheet.append(_clean([]))
    header = ["Ligne", "Nature", "Priorité", "Demandé (€ HT)", "Obtenu (€ HT)", "Part de la dépense éligible",
              "Retiré (€)", "Pourquoi"]
    sheet.append(_clean(header))
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = bold
    for r in result.lines:
        sheet.append(_clean([r.label, r.line.kind_label, r.line.priority, euros_decimal(r.requested_cents), euros_decimal(r.granted_cents),
                      percent(r.granted_cents, result.eligible_cost_ht_cents) / 100, euros_decimal(r.removed_cents),
                      "\n".join(red.explanation for red in r.reductions)]))
        row = sheet.max_row
        for col in (4, 5, 7):
            sheet.cell(row, col).number_format = EURO_FORMAT
        sheet.cell(row, 6).number_format = "0.00%"
        sheet.cell(row, 8).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.append(_clean([]))
    totals = [("Total des subventions", result.grants_cents),
              ("Dont subventions de l'État", result.state_grants_cents),
              ("Prêts (à part des subventions)", result.loans_cents),
              ("Apports en fonds propres", result.equity_cents),
              ("Part du maître d'ouvrage (coût moins subventions)", result.owner_share_cents),
              ("Dont autofinancement", result.own_funds_cents),
              ("Total des financements publics (CGCT L1111-10)", result.public_total_cents)]
    for label, cents in totals:
        sheet.append(_clean([label, None, None, None, euros_decimal(cents)]))
        sheet.cell(sheet.max_row, 1).font = bold
        sheet.cell(sheet.max_row, 5).number_format = EURO_FORMAT
    sheet.append(_clean(["Part du maître d'ouvrage dans les financements publics", None, None, None,
                  result.owner_share_percent / 100]))
    sheet.cell(sheet.max_row, 1).font = bold
    sheet.cell(sheet.max_row, 5).number_format = "0.00%"
    for col, width in zip(range(1, 9), (42, 30, 10, 18, 18, 16, 16, 90)):
        sheet.column_dimensions[get_column_letter(col)].width = width

    explained = book.create_sheet("Explications")
    explained.append(_clean(["Ligne", "Règle", "Référence", "Montant retiré (€)", "Explication"]))
    for cell in explained[1]:
        cell.font = bold
    for r, red in result.reductions:
        explained.append(_clean([r.label, red.label, red.reference, euros_decimal(red.amount_cents), red.explanation]))
        explained.cell(explained.max_row, 4).number_format = EURO_FORMAT
        explained.cell(explained.max_row, 5).alignment = Alignment(wrap_text=True, vertical="top")
    for col, width in zip("ABCDE", (36, 40, 36, 18, 100)):
        explained.column_dimensions[col].width = width

    rules = book.create_sheet("Règles appliquées")
    rules.append(_clean(["Règle", "Référence", "Plafond (€)", "Total constaté (€)", "Retiré (€)", "Constat"]))
    for cell in rules[1]:
        cell.font = bold
    for check in result.checks:
        rules.append(_clean([check.label, check.reference, None if check.limit_cents is None else euros_decimal(check.limit_cents),
                      euros_decimal(check.total_before_cents), euros_decimal(check.removed_cents), check.explanation]))
        for col in (3, 4, 5):
            rules.cell(rules.max_row, col).number_format = EURO_FORMAT
        rules.cell(rules.max_row, 6).alignment = Alignment(wrap_text=True, vertical="top")
    for warning in result.warnings:
        rules.append(_clean(["Avertissement", None, None, None, None, warning]))
    for col, width in zip("ABCDEF", (40, 36, 16, 18, 16, 100)):
        rules.column_dimensions[col].width = width

    _as_text(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# PDF ----------------------------------------------------------------------------------------------

_WINANSI_FALLBACKS = str.maketrans({"\u202f": "\u00a0", "\u2009": " ", "\u2264": "<=", "\u2265": ">=",
                                    "\u2192": "->", "\u2212": "-"})


def pdf_text(text: str) -> str:
    """Text the standard PDF fonts can draw, escaped for reportlab's mini-markup."""
    text = str(text).translate(_WINANSI_FALLBACKS)
    text = text.encode("cp1252", errors="replace").decode("cp1252")
    return escape(text)


def to_pdf(title: str, organisation: str, result: PlanResult, generated_on: dt.date | None = None) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    normal, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8, leading=10)
    right = small.clone("right", alignment=2)
    generated_on = generated_on or dt.date.today()

    def p(text, style=normal):
        return Paragraph(pdf_text(text), style)

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, title=title, author=organisation,
                            subject="Plan de financement", creator="Passerelle")
    story = [p(title, styles["Title"]), p(organisation, styles["Heading3"]),
             p(f"Coût du projet : {euros(result.cost_ht_cents)} HT — dépense éligible : "
               f"{euros(result.eligible_cost_ht_cents)} HT — règles en vigueur au "
               f"{result.on.strftime('%d/%m/%Y')}."),
             p(f"Ligne qui cède la première quand un plafond s'applique : {result.ordering.label}."),
             Spacer(1, 4 * mm)]

    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3e3fd")),
                       ("VALIGN", (0, 0), (-1, -1), "TOP")])
    rows = [[p(h, small) for h in ("Ligne", "Nature", "Priorité", "Demandé", "Obtenu", "Part de la dépense "
                                   "éligible", "Retiré")]]
    for r in result.lines:
        rows.append([p(r.label, small), p(r.line.kind_label, small), p(str(r.line.priority), right),
                     p(euros(r.requested_cents), right), p(euros(r.granted_cents), right),
                     p(_rate_of_eligible(result, r.granted_cents), right), p(euros(r.removed_cents), right)])
    table = Table(rows, colWidths=[70 * mm, 55 * mm, 17 * mm, 32 * mm, 32 * mm, 28 * mm, 30 * mm], repeatRows=1)
    table.setStyle(grid)
    story += [table, Spacer(1, 4 * mm)]

    totals = [("Total des subventions", result.grants_cents, f"{pct(result.grants_percent)} du coût"),
              ("Prêts (à part des subventions)", result.loans_cents, ""),
              ("Apports en fonds propres", result.equity_cents, ""),
              ("Part du maître d'ouvrage", result.owner_share_cents,
               f"{pct(result.owner_share_percent)} des financements publics"),
              ("Dont autofinancement", result.own_funds_cents, "")]
    totals_table = Table([[p(label, small), p(euros(cents), right), p(note, small)] for label, cents, note in totals],
                         colWidths=[80 * mm, 35 * mm, 70 * mm])
    totals_table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey)]))
    story += [p("Totaux", styles["Heading2"]), totals_table]

    story.append(p("Réductions appliquées et leurs motifs", styles["Heading2"]))
    if result.reductions:
        story.append(ListFlowable([ListItem(p(f"{r.label} : {red.explanation}"), leftIndent=10)
                                   for r, red in result.reductions], bulletType="bullet"))
    else:
        story.append(p("Aucune : chaque ligne obtient ce qu'elle demande."))
    story.append(p("Règles vérifiées", styles["Heading2"]))
    story.append(ListFlowable([ListItem(p(check.explanation), leftIndent=10) for check in result.checks]
                              or [ListItem(p("Aucune règle en vigueur à cette date."))], bulletType="bullet"))
    if result.warnings:
        story.append(p("Avertissements", styles["Heading2"]))
        story.append(ListFlowable([ListItem(p(w), leftIndent=10) for w in result.warnings], bulletType="bullet"))
    story += [Spacer(1, 6 * mm),
              p(f"Établi avec Passerelle le {generated_on.strftime('%d/%m/%Y')}. Montants hors taxes, arrondis au "
                "centime inférieur. Simulation indicative : seules les décisions des financeurs font foi.", small)]

    def _page_number(canvas, document):
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(document.pagesize[0] - 15 * mm, 8 * mm, f"Page {document.page}")

    doc.build(story, onFirstPage=_page_number, onLaterPages=_page_number)
    return out.getvalue()

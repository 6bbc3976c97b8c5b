"""The plan's bar chart, laid out here and drawn as inline SVG by the template.

Server-side geometry, no JavaScript: the chart shows in every browser, in the PDF's spirit, and in
tests. Bars are horizontal (long programme names read better on the left), scaled to the project
cost, in three groups: the grants line by line, then the owner's share split into loans, equity
and own funds — loans shown apart from grants, as the issue asks. The results table next to the
chart is its text alternative; the SVG also carries a title and a one-sentence description.
"""
from __future__ import annotations

from dataclasses import dataclass

from marketplace.core.money import euros, pct, percent
from marketplace.funding.plan.engine import Category, PlanResult

WIDTH = 760
LABEL_WIDTH = 270
VALUE_WIDTH = 150
PLOT_WIDTH = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20
BAR_HEIGHT = 22
ROW = 32
HEADING = 30
MAX_LABEL = 38

# DSFR colours: blue France for grants, a lighter blue for loans and equity, red Marianne for the
# owner's own funds. Each group also has a heading, so colour is never the only cue.
COLOURS = {"grant": "#000091", "loan": "#6a6af4", "equity": "#8585f6", "own": "#c9191e"}


@dataclass(frozen=True)
class Bar:
    label: str  # shortened for the chart; ``title`` holds the full text
    title: str
    value_text: str
    kind: str
    y: int
    width: float
    colour: str


@dataclass(frozen=True)
class Heading:
    text: str
    y: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    headings: list[Heading]
    height: int
    description: str
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    plot_width: int = PLOT_WIDTH
    bar_height: int = BAR_HEIGHT


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1].rstrip() + "…"


def bar_chart(result: PlanResult) -> Chart:
    scale = max(result.cost_ht_cents, 1)
    groups: list[tuple[str, list[tuple[str, int, str]]]] = [
        ("Subventions", [(r.label, r.granted_cents, "grant") for r in result.lines if r.is_grant]),
        ("Part de la collectivité (maître d'ouvrage)", [
            *[(f"Prêt : {r.label}", r.granted_cents, "loan") for r in result.lines
              if r.line.category is Category.loan],
            *[(f"Fonds propres : {r.label}", r.granted_cents, "equity") for r in result.lines
              if r.line.category is Category.equity],
            ("Autofinancement", result.own_funds_cents, "own"),
        ]),
    ]
    bars, headings, y = [], [], 0
    for heading, rows in groups:
        if not rows:
            continue
        headings.append(Heading(heading, y + 20))
        y += HEADING
        for label, cents, kind in rows:
            share = pct(percent(cents, result.cost_ht_cents))
            bars.append(Bar(_short(label), label, f"{euros(cents)} ({share})", kind, y,
                            round(PLOT_WIDTH * cents / scale, 1), COLOURS[kind]))
            y += ROW
    description = (f"Coût du projet {euros(result.cost_ht_cents)} HT : subventions {euros(result.grants_cents)} "
                   f"({pct(result.grants_percent)}), part du maître d'ouvrage {euros(result.owner_share_cents)}"
                   + (f" dont prêts {euros(result.loans_cents)}" if result.loans_cents else "")
                   + (f" et fonds propres {euros(result.equity_cents)}" if result.equity_cents else "") + ".")
    return Chart(bars, headings, y + 8, description)

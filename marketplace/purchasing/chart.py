"""The tiers as an accessible SVG: one bar per price (list price, then each tier), the one the group
reached marked, its height the unit price. The page shows the same figures in a table beside it."""
from __future__ import annotations

import html

from marketplace.core import money
from marketplace.core.text import format_int_fr
from marketplace.purchasing import pricing

WIDTH, HEIGHT, TOP, BOTTOM = 640, 260, 24, 52


def tiers_svg(list_price: int, tiers: list[pricing.Tier], result: pricing.Figures, unit_words: str) -> str:
    bars = [("Prix catalogue", list_price, result.current_tier is None)]
    bars += [(f"Palier {i}, dès {format_int_fr(t.min_units)}" + (f" et {t.min_cities} coll." if t.min_cities else ""),
              t.unit_price_ht_cents, result.current_tier == i) for i, t in enumerate(tiers, start=1)]
    top = max(price for _, price, _ in bars) or 1
    slot = WIDTH / len(bars)
    parts = []
    for i, (label, price, current) in enumerate(bars):
        height = (HEIGHT - TOP - BOTTOM) * price / top
        x, y = i * slot + slot * 0.15, HEIGHT - BOTTOM - height
        colour = "#000091" if current else "#cacafb"
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{y - 6:.1f}" text-anchor="middle" font-size="13" '
                     f'fill="#161616">{html.escape(money.euros(price))}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 18:.1f}" text-anchor="middle" '
                     f'font-size="11" fill="#3a3a3a">{html.escape(label)}</text>')
        if current:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 36:.1f}" text-anchor="middle" '
                         f'font-size="11" font-weight="700" fill="#000091">prix actuel</text>')
    reached = "le prix catalogue" if result.current_tier is None else f"le palier {result.current_tier}"
    description = (f"Prix HT {unit_words} selon le volume : {format_int_fr(result.total_units)} unités engagées, "
                   f"{reached} s'applique, soit {money.euros(result.unit_price_ht_cents)} HT.")
    return (f'<svg class="passerelle-tiers" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="paliers-titre paliers-desc" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="paliers-titre">Paliers de prix</title><desc id="paliers-desc">{html.escape(description)}</desc>'
            + "".join(parts) + "</svg>")

"""Money and rates: integer cents HT and basis points everywhere, written the French way.

Amounts are never floats: they are integer cents (``amount_ht_cents``), rates are integer basis
points of a base (4000 = 40 %). What people type ("1 200 000,50 €", "40,5 %") is read here, and
what pages, forms and exports show is written here, with one set of limits.
"""
from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation

BP = 10_000  # 100 % in basis points
# Ten billion euros: an amount above is a typo (and stays far below a BIGINT column's range).
MAX_CENTS = 10**12
NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"

_SPACES = re.compile(r"[\s\u202f\u00a0]")


class MoneyError(ValueError):
    """What was typed is not an amount (or a rate): the message says why, in French."""


def euros(cents: int) -> str:
    """123456789 → '1 234 567,89 €'; whole euros without decimals ('1 200 €')."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    text = f"{whole:,}".replace(",", NNBSP)
    return f"{sign}{text},{rest:02d}{NBSP}€" if rest else f"{sign}{text}{NBSP}€"


def euros_input(cents: int | None) -> str:
    """12050 → '120,50' as a form field shows it; 12000 → '120'; None → ''."""
    if cents is None:
        return ""
    whole, rest = divmod(cents, 100)
    return f"{whole},{rest:02d}" if rest else str(whole)


def euros_cell(cents: int | None) -> str:
    """For French spreadsheets: '1200,50' is a number there (a thousands separator would make it text)."""
    return "" if cents is None else f"{cents // 100},{cents % 100:02d}"


def euros_decimal(cents: int) -> Decimal:
    """Cents → a Decimal of euros, for XLSX cells formatted as currency."""
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def parse_euros(value: object) -> int:
    """'1 200 000,50 €', '1200.5', 1200 → cents. Raises MoneyError in French."""
    if isinstance(value, bool):
        raise MoneyError("Montant attendu, en euros (ex. : 1 200,50).")
    if isinstance(value, int):
        amount = Decimal(value)
    else:
        text = _SPACES.sub("", str(value)).replace("€", "").replace(",", ".")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise MoneyError("Montant attendu, en euros (ex. : 1 200,50).") from None
    if not amount.is_finite():
        raise MoneyError("Montant attendu, en euros (ex. : 1 200,50).")
    if amount < 0:
        raise MoneyError("Le montant ne peut pas être négatif.")
    cents = amount * 100
    if cents > MAX_CENTS:
        raise MoneyError("Montant trop élevé (10 milliards d'euros au plus).")
    if cents != cents.to_integral_value():
        raise MoneyError("Deux décimales au plus.")
    return int(cents)


def rate(bp: int) -> str:
    """4000 → '40 %', 3333 → '33,33 %'."""
    return pct(Decimal(bp) / 100)


def pct(value: Decimal) -> str:
    """A percentage (Decimal) → '33,33 %', two decimals at most, rounded down."""
    text = f"{value.quantize(Decimal('0.01'), ROUND_DOWN):f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") + NBSP + "%"


def percent(part: int, whole: int) -> Decimal:
    """part / whole in percent, two decimals, rounded down (0 when whole is 0)."""
    if whole <= 0:
        return Decimal(0)
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_DOWN)


def rate_input(bp: int | None) -> str:
    """4050 → '40,5' as a form field shows it; None → ''."""
    if bp is None:
        return ""
    whole, rest = divmod(bp, 100)
    return f"{whole},{rest:02d}".rstrip("0").rstrip(",") if rest else str(whole)


def parse_rate(value: object) -> int:
    """'40', '40,5 %' → basis points (4050). Raises MoneyError in French."""
    text = _SPACES.sub("", str(value)).replace("%", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise MoneyError("Pourcentage attendu (ex. : 40 ou 40,5).") from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise MoneyError("Un taux est compris entre 0 et 100 %.")
    bp = number * 100
    if bp != bp.to_integral_value():
        raise MoneyError("Deux décimales au plus.")
    return int(bp)

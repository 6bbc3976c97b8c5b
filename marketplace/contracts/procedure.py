"""Which procedures a public buyer may use for a need, and why: the thresholds of the Code de la
commande publique read from ``procurement_thresholds`` for the day the consultation is launched.

The rules (CCP; see ../README and the seeded rows for the sources):
- **marché sans publicité ni mise en concurrence** (R2122-8): the need is *strictly below* the
  dispense threshold of its nature (supplies and services 40 000 € HT, 60 000 € HT for consultations
  launched from 2026-04-01; works 100 000 € HT);
- **achat innovant** (R2122-9-1): an innovative need strictly below 100 000 € HT;
- **MAPA**, procédure adaptée (R2123-1): strictly below the EU threshold of its nature;
- **appel d'offres** (R2124-2): always possible, and required from the EU threshold;
- **partenariat d'innovation** (L2172-3): when no solution on the market meets the need, at any amount.

The value compared is the whole need (every lot, the whole duration; for a groupement de commandes,
every member's need added up, CCP R2121-1 and L2113-6): the caller gives that total.
Amounts are integer cents; a threshold the law writes "inférieur à" is met only strictly below.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.contracts.models import NATURES, ProcurementThreshold
from marketplace.core import money
from marketplace.core.errors import ServiceError
from marketplace.core.text import date_fr

BUYER_KINDS = {"commune": "Commune", "epci": "Intercommunalité", "departement": "Département", "region": "Région"}

PROCEDURES = {
    "dispense": ("Marché sans publicité ni mise en concurrence préalables", "R2122-8"),
    "achat_innovant": ("Achat innovant sans publicité ni mise en concurrence", "R2122-9-1"),
    "mapa": ("Procédure adaptée (MAPA)", "R2123-1"),
    "appel_offres": ("Appel d'offres", "R2124-2"),
    "partenariat_innovation": ("Partenariat d'innovation", "L2172-3"),
}


@dataclass(frozen=True)
class Threshold:
    code: str
    amount_ht_cents: int
    legal_reference: str
    valid_from: dt.date
    valid_to: dt.date | None
    label: str = ""

    def met_by(self, amount_ht_cents: int) -> bool:
        return amount_ht_cents < self.amount_ht_cents


@dataclass(frozen=True)
class Allowed:
    procedure: str
    label: str
    article: str
    rule: str  # why, in French, with the figures and the article


@dataclass
class ProcedureAnswer:
    amount_ht_cents: int
    nature: str
    innovative: bool
    launch_date: dt.date
    allowed: list[Allowed] = field(default_factory=list)
    refused: list[Allowed] = field(default_factory=list)  # what is not open, and why
    recommended: str = ""

    def allows(self, procedure: str) -> bool:
        return any(a.procedure == procedure for a in self.allowed)

    def refusal(self, procedure: str) -> str | None:
        return next((r.rule for r in self.refused if r.procedure == procedure), None)

    def as_dict(self) -> dict:
        return {"allowed": [{"procedure": a.procedure, "label": a.label, "article": a.article, "rule": a.rule}
                            for a in self.allowed],
                "not_allowed": [{"procedure": r.procedure, "label": r.label, "article": r.article, "rule": r.rule}
                                for r in self.refused],
                "recommended": self.recommended, "thresholds_as_of": self.launch_date}


def euros_ht(cents: int) -> str:
    return f"{money.euros(cents)} HT"


def _compared(amount: int, threshold: Threshold, what: str) -> str:
    """'Montant de 50 000 € HT inférieur au seuil de dispense (60 000 € HT, art. R2122-8 CCP)'."""
    word = "inférieur au" if threshold.met_by(amount) else ("égal au" if amount == threshold.amount_ht_cents
                                                            else "supérieur au")
    return (f"Montant de {euros_ht(amount)} {word} seuil {what} ({euros_ht(threshold.amount_ht_cents)}, "
            f"art. {threshold.legal_reference} CCP{_since(threshold)})")


def _since(threshold: Threshold) -> str:
    # Say the date when the threshold changed recently, so the buyer knows why the answer moved.
    return f", pour les consultations lancées à partir du {date_fr(threshold.valid_from)}" \
        if threshold.valid_from >= dt.date(2025, 1, 1) else ""


def decide(amount_ht_cents: int, nature: str, innovative: bool, launch_date: dt.date,
           thresholds: dict[str, Threshold]) -> ProcedureAnswer:
    """The procedures open to this need, given the thresholds valid on the launch date (by code)."""
    answer = ProcedureAnswer(amount_ht_cents, nature, innovative, launch_date)

    def add(procedure: str, ok: bool, rule: str) -> None:
        label, article = PROCEDURES[procedure]
        (answer.allowed if ok else answer.refused).append(Allowed(procedure, label, article, rule))

    dispense, eu, innovation = thresholds["dispense"], thresholds["eu_threshold"], thresholds.get("achat_innovant")
    add("dispense", dispense.met_by(amount_ht_cents), _compared(amount_ht_cents, dispense, "de dispense de procédure"))
    if innovative and innovation is not None:
        add("achat_innovant", innovation.met_by(amount_ht_cents),
            _compared(amount_ht_cents, innovation, "de l'achat innovant"))
    elif not innovative:
        label, article = PROCEDURES["achat_innovant"]
        answer.refused.append(Allowed("achat_innovant", label, article,
                                      "Réservé à un besoin innovant : travaux, fournitures ou services nouveaux ou "
                                      "sensiblement améliorés (art. L2172-3 CCP)"))
    add("mapa", eu.met_by(amount_ht_cents), _compared(amount_ht_cents, eu, "européen"))
    add("appel_offres", True, "Toujours possible ; obligatoire à partir du seuil européen "
                              f"({euros_ht(eu.amount_ht_cents)}, art. R2124-1 CCP)")
    if innovative:
        add("partenariat_innovation", True, "Possible quel que soit le montant si aucune solution existante ne "
                                            "répond au besoin : au moins une phase de recherche et développement "
                                            "puis une phase d'acquisition (art. L2172-3, R2172-20 et suivants CCP)")
    # The lightest procedure the need allows: an innovative purchase documents its innovation.
    for procedure in ("achat_innovant", "dispense", "mapa", "appel_offres"):
        if answer.allows(procedure):
            answer.recommended = procedure
            break
    return answer


_READ = "procurement_thresholds_read"


def thresholds_on(session: Session, nature: str, day: dt.date) -> dict[str, Threshold]:
    """The thresholds valid on that day for that nature, by code. Refused in French when the law's
    figures for that day are not known (the EU thresholds are revised every two years).

    Read once per transaction (a list of group purchases asks for each of its rows): a new
    transaction, or a threshold changed in this one (``forget_thresholds``), reads them again."""
    transaction = session.get_transaction()
    kept = session.info.get(_READ)
    read = kept[1] if kept is not None and transaction is not None and kept[0] is transaction else {}
    if (nature, day) not in read:
        read[(nature, day)] = _read_thresholds(session, nature, day)  # begins the transaction if none was
        session.info[_READ] = (session.get_transaction(), read)
    return dict(read[(nature, day)])


def forget_thresholds(session: Session) -> None:
    session.info.pop(_READ, None)


def _read_thresholds(session: Session, nature: str, day: dt.date) -> dict[str, Threshold]:
    rows = session.scalars(select(ProcurementThreshold).where(ProcurementThreshold.in_force_on(day))
                           .order_by(ProcurementThreshold.valid_from.desc(), ProcurementThreshold.id.desc()))
    found: dict[str, Threshold] = {}
    for row in rows:
        if nature in (row.natures or ()) and row.code not in found:
            found[row.code] = Threshold(row.code, row.amount_ht_cents, row.legal_reference, row.valid_from,
                                        row.valid_to, row.label)
    missing = [code for code in ("dispense", "eu_threshold") if code not in found]
    if missing:
        raise ServiceError(f"Les seuils de la commande publique ne sont pas connus pour une consultation lancée le "
                           f"{date_fr(day)} : ils sont connus du {date_fr(_first_known(session))} au "
                           f"{date_fr(_last_known(session))}.", "launch_date")
    return found


def _first_known(session: Session) -> dt.date:
    return session.scalar(select(ProcurementThreshold.valid_from).order_by(ProcurementThreshold.valid_from)
                          .limit(1)) or dt.date(2020, 1, 1)


def _last_known(session: Session) -> dt.date:
    rows = session.execute(select(ProcurementThreshold.valid_to).where(ProcurementThreshold.code == "eu_threshold")
                           ).scalars().all()
    return dt.date.max if any(r is None for r in rows) else max(rows, default=dt.date(2020, 1, 1))


def procedures_for(session: Session, amount_ht_cents: int, nature: str, innovative: bool,
                   launch_date: dt.date) -> ProcedureAnswer:
    if nature not in NATURES:
        raise ServiceError("Nature d'achat inconnue : services, fournitures ou travaux.", "nature")
    if amount_ht_cents <= 0:
        raise ServiceError("Indiquez le montant estimé du besoin, supérieur à 0 € HT.", "amount_ht")
    return decide(amount_ht_cents, nature, innovative, launch_date, thresholds_on(session, nature, launch_date))

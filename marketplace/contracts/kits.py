"""What each kit adds to its questionnaire: the figures its text uses (totals, labels) and the legal
checks that refuse what the law forbids, each naming its article.

A check returns (field, French message) pairs; an empty list lets the documents be generated. The
procedure thresholds come from ``marketplace.contracts.procedure`` (data with dates), never from here.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from marketplace.contracts import procedure
from marketplace.core import money
from marketplace.core.errors import ServiceError

Answers = dict[str, Any]
Problems = list[tuple[str | None, str]]

CCAG = {"tic": "cahier des clauses administratives générales des marchés publics de techniques de l'information et "
               "de la communication (CCAG-TIC)",
        "pi": "cahier des clauses administratives générales des marchés publics de prestations intellectuelles "
              "(CCAG-PI)"}


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return None


# Partenariat d'innovation ------------------------------------------------------------------------

def _partnership_figures(answers: Answers) -> Answers:
    phases = answers.get("phases") or []
    rd = [p for p in phases if p.get("kind") == "rd"]
    acquisition = [p for p in phases if p.get("kind") == "acquisition"]
    return {"rd_phases": rd, "acquisition_phases": acquisition,
            "total_rd": sum(p.get("amount_ht") or 0 for p in rd),
            "total_acquisition": sum(p.get("amount_ht") or 0 for p in acquisition),
            "total_months": sum(p.get("duration_months") or 0 for p in phases),
            "ccag_label": CCAG.get(answers.get("ccag") or "tic", CCAG["tic"])}


def _partnership_checks(session: Session, answers: Answers) -> Problems:
    problems: Problems = []
    phases = answers.get("phases") or []
    kinds = [p.get("kind") for p in phases]
    if "rd" not in kinds or "acquisition" not in kinds:
        problems.append(("phases", "Un partenariat d'innovation comporte au moins une phase de recherche et "
                                   "développement puis au moins une phase d'acquisition (art. R2172-20 CCP)."))
    elif kinds.index("acquisition") < len(kinds) - 1 - kinds[::-1].index("rd"):
        problems.append(("phases", "Les phases de recherche et développement précèdent les phases d'acquisition "
                                   "(art. R2172-22 CCP) : remettez-les dans l'ordre."))
    figures = _partnership_figures(answers)
    ceiling = answers.get("max_acquisition_cost") or 0
    if figures["total_acquisition"] > ceiling:
        problems.append(("max_acquisition_cost",
                         f"Les phases d'acquisition ({money.euros(figures['total_acquisition'])} HT) dépassent le coût "
                         f"maximal des acquisitions ({money.euros(ceiling)} HT) : les acquisitions ne peuvent pas "
                         "dépasser ce coût (art. R2172-32 CCP)."))
    if (answers.get("payment_days") or 0) > 30:
        problems.append(("payment_days", "Le délai de paiement d'une collectivité territoriale est de 30 jours au "
                                         "plus (art. R2192-10 CCP)."))
    return problems


# Achat innovant -------------------------------------------------------------------------------

def _innovative_figures(answers: Answers) -> Answers:
    return {"ccag_label": CCAG.get(answers.get("ccag") or "tic", CCAG["tic"]),
            "nature_label": {"services": "services", "supplies": "fournitures", "works": "travaux"}.get(
                answers.get("nature") or "services", "services")}


def _innovative_checks(session: Session, answers: Answers) -> Problems:
    amount, launch = answers.get("amount_ht"), _day(answers.get("launch_date"))
    if not amount or launch is None:
        return []
    try:
        answer = procedure.procedures_for(session, amount, answers.get("nature") or "services", True, launch)
    except ServiceError as refusal:
        return [("launch_date", refusal.message)]
    problems: Problems = []
    if not answer.allows("achat_innovant"):
        problems.append(("amount_ht", answer.refusal("achat_innovant") or "L'achat innovant n'est pas ouvert."))
    if (answers.get("payment_days") or 0) > 30:
        problems.append(("payment_days", "Le délai de paiement d'une collectivité territoriale est de 30 jours au "
                                         "plus (art. R2192-10 CCP)."))
    return problems


# Convention d'expérimentation ------------------------------------------------------------------

def _trial_checks(session: Session, answers: Answers) -> Problems:
    problems: Problems = []
    if not answers.get("free_of_charge"):
        problems.append(("free_of_charge", "Une expérimentation gratuite ne prévoit aucune contrepartie (ni prix, ni "
                                           "exclusivité sur les données, ni promesse d'achat) : sinon c'est un marché "
                                           "public, soumis à ses procédures."))
    if not answers.get("no_advantage"):
        problems.append(("no_advantage", "L'expérimentation ne doit donner au partenaire aucun avantage dans une "
                                         "consultation ultérieure (égalité de traitement, art. L3 et R2111-1 CCP)."))
    return problems


# Convention constitutive de groupement de commandes -----------------------------------------

def _group_figures(answers: Answers) -> Answers:
    members = answers.get("members") or []
    total = sum(m.get("estimated_need_ht") or 0 for m in members)
    figures: Answers = {"total_need": total, "procedure_label": "", "procedure_rule": ""}
    return figures


def group_procedure(session: Session, answers: Answers) -> procedure.ProcedureAnswer | None:
    total = _group_figures(answers)["total_need"]
    launch = _day(answers.get("launch_date"))
    if not total or launch is None:
        return None
    return procedure.procedures_for(session, total, answers.get("nature") or "services", False, launch)


def _group_checks(session: Session, answers: Answers) -> Problems:
    problems: Problems = []
    members = answers.get("members") or []
    names = {" ".join((m.get("name") or "").lower().split()) for m in members}
    if len(members) < 2:
        problems.append(("members", "Un groupement de commandes réunit au moins deux acheteurs (art. L2113-6 CCP)."))
    coordinator = " ".join((answers.get("coordinator") or "").lower().split())
    if coordinator and coordinator not in names:
        problems.append(("coordinator", "Le coordonnateur est l'un des membres du groupement (art. L2113-7 CCP) : "
                                        "donnez le nom d'un membre tel qu'il figure dans la liste."))
    try:
        group_procedure(session, answers)
    except ServiceError as refusal:
        problems.append(("launch_date", refusal.message))
    return problems


def _group_with_procedure(session: Session, answers: Answers) -> Answers:
    figures = _group_figures(answers)
    try:
        answer = group_procedure(session, answers)
    except ServiceError:
        answer = None
    if answer is not None:
        recommended = next(a for a in answer.allowed if a.procedure == answer.recommended)
        figures.update(procedure_label=recommended.label, procedure_rule=recommended.rule,
                       procedure_article=recommended.article)
    return figures


# The registry ------------------------------------------------------------------------------------

Figures = Callable[[Session, Answers], Answers]
Checks = Callable[[Session, Answers], Problems]

KITS: dict[str, tuple[Figures, Checks]] = {
    "partenariat-innovation": (lambda s, a: _partnership_figures(a), _partnership_checks),
    "achat-innovant": (lambda s, a: _innovative_figures(a), _innovative_checks),
    "convention-experimentation": (lambda s, a: {}, _trial_checks),
    "groupement-commandes": (_group_with_procedure, _group_checks),
}


def figures(session: Session, slug: str, answers: Answers) -> Answers:
    hook = KITS.get(slug)
    return hook[0](session, answers) if hook else {}


def checks(session: Session, slug: str, answers: Answers) -> Problems:
    hook = KITS.get(slug)
    return hook[1](session, answers) if hook else []

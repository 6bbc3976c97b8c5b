"""'Mes financements': the collectivité's eligible programmes and open calls, with facets, full-text
search through the shared index, the reasons, and the deadlines as an iCalendar feed."""
from __future__ import annotations

import datetime as dt
import html
import re

from icalendar import Calendar

from marketplace.core.clock import today
from marketplace.funding import services as funding
from search.indexing import without_indexing
from search.service import rebuild
from tenants.models import Role
from tests.factories import make_city, make_member, make_programme, make_user
from tests.helpers import sign_in


def text(response) -> str:
    return response.get_data(as_text=True)


def titles(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<h2 class="fr-card__title"><a href="[^"]+">([^<]+)</a>', page)]


def publish_call(db, programme, title, closes_on, **extra):
    actor = make_user(db)
    with without_indexing(db):
        call = funding.create_call(db, actor, programme, {"title": title, "closes_on": closes_on, **extra})
        funding.apply_call_action(db, actor, call, "publish")
    return call


def guichet(db, people):
    """Issoudun (11 159 inhabitants, Centre-Val de Loire) is eligible to three programmes, not to a
    fourth for cities of 20 000 and more, nor to a fifth in Bretagne."""
    soon = today() + dt.timedelta(days=10)
    later = today() + dt.timedelta(days=90)
    lighting = make_programme(db, people.region, title="Rénovation de l'éclairage public",
                              summary="Subvention au remplacement des luminaires énergivores par des LED.",
                              themes=["eclairage-public"], recurrence="one_off", closes_on=later)
    loan = make_programme(db, people.bank, title="Prêt mobilités douces", funder_level="banque_des_territoires",
                          summary="Prêt à long terme pour les pistes cyclables et les parkings vélos.",
                          aid_types=["pret"], themes=["mobilite-stationnement"], population_below=None, scope=(("include", "france", "FR"),))
    schools = make_programme(db, people.region, title="Écoles sobres", summary="Isolation des écoles communales.",
                             themes=["energie-batiments"])
    make_programme(db, people.region, title="Grandes villes", population_min=20000, population_below=None)
    make_programme(db, people.region, title="Bretagne seulement", scope=(("include", "region", "53"),))
    call = publish_call(db, lighting, "Appel 2027 — éclairage des bourgs", soon, prefiling_on=today() + dt.timedelta(days=3))
    db.commit()
    return lighting, loan, schools, call


def test_a_city_sees_what_it_is_eligible_to_and_why(client, db, people):
    lighting, loan, schools, call = guichet(db, people)
    sign_in(client, people.mayor, people.mayor_m)
    page = text(client.get("/espace/financements"))
    # Open items first, soonest closing first: the call closes in 10 days, the programme in 90.
    assert titles(page) == [call.title, lighting.title, schools.title, loan.title]
    assert "Grandes villes" not in page and "Bretagne seulement" not in page
    assert "Éligible : commune de 11\u202f159 habitants (seuil : moins de 20\u202f000 habitants), région Centre-Val de Loire" in page
    assert "Éligible : commune de 11\u202f159 habitants, programme ouvert à toute la France" in page
    assert "Clôture proche" in page and "pré-dépôt avant le" in page
    # Facets count what the other facets leave, and combine.
    assert "Prêt (1)" in page and "Subvention (3)" in page
    page = text(client.get("/espace/financements?aide=pret"))
    assert titles(page) == [loan.title]
    assert "Subvention (3)" in page  # still offered: choosing a loan does not hide the grants' count
    page = text(client.get("/espace/financements?calendrier=cloture_proche"))
    assert titles(page) == [call.title]
    page = text(client.get("/espace/financements?nature=call&echelon=region"))
    assert titles(page) == [call.title]
    page = text(client.get("/espace/financements?theme=inconnu&aide=%3Cscript%3E"))  # unknown values are ignored
    assert len(titles(page)) == 4
    for odd in ("_scheme=x", "_anchor=x", "_method=x", "endpoint=x", "page=-3", "page=abc", "q=" + "é" * 5000):
        assert client.get("/espace/financements?" + odd).status_code == 200, odd


def test_words_are_searched_in_the_shared_index_among_eligible_items_only(client, db, people, settings):
    lighting, loan, schools, call = guichet(db, people)
    rebuild(settings.search_dir, db)
    sign_in(client, people.mayor, people.mayor_m)
    # Accents, plural and a synonym of the shared analysis; the Bretagne programme has the same
    # words but is not eligible.
    page = text(client.get("/espace/financements?q=eclairages"))
    assert set(titles(page)) == {lighting.title, call.title}
    assert "indisponible" not in page
    page = text(client.get("/espace/financements?q=velo"))
    assert titles(page) == [loan.title]
    page = text(client.get("/espace/financements?q=subvention&nature=programme"))
    assert call.title not in titles(page) and lighting.title in titles(page)
    page = text(client.get("/espace/financements?q=bretagne"))
    assert titles(page) == [] and "Aucun financement ne correspond à cette recherche" in page


def test_without_an_index_words_are_matched_in_the_database_and_the_page_says_so(client, db, people):
    lighting, *_ = guichet(db, people)
    sign_in(client, people.mayor, people.mayor_m)
    page = text(client.get("/espace/financements?q=luminaires"))
    assert titles(page) == [lighting.title]
    assert "momentanément indisponible" in page


def test_a_city_with_nothing_published_sees_an_empty_state(client, db):
    city = make_city(db, "35360")  # Vitré
    user, membership = make_member(db, city, Role.viewer)
    db.commit()
    sign_in(client, user, membership)
    page = text(client.get("/espace/financements"))
    assert "Aucun financement publié pour votre territoire pour le moment" in page


def test_other_kinds_of_tenant_get_404_and_visitors_sign_in(client, db, people):
    assert client.get("/espace/financements").status_code == 302
    sign_in(client, people.funder, people.funder_m)
    assert client.get("/espace/financements").status_code == 404
    assert client.get("/espace/financements/echeances.ics").status_code == 404


def test_deadlines_as_an_icalendar_feed(client, db, people):
    lighting, loan, schools, call = guichet(db, people)
    sign_in(client, people.mayor, people.mayor_m)
    response = client.get("/espace/financements/echeances.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    events = {str(e["uid"]): e for e in Calendar.from_ical(response.data).walk("VEVENT")}
    assert set(events) == {f"programme-{lighting.id}-closing@passerelle", f"call-{call.id}-closing@passerelle",
                           f"call-{call.id}-prefiling@passerelle"}
    closing = events[f"call-{call.id}-closing@passerelle"]
    assert closing.decoded("dtstart") == call.closes_on
    assert str(closing["summary"]) == f"Clôture : {call.title}"
    assert "Éligible : commune de 11 159 habitants" in str(closing["description"]).replace("\u202f", " ")

    # The subscription link works without a session (calendar apps have none), and stops with
    # the membership.
    page = text(client.get("/espace/financements"))
    feed = re.search(r'id="lien-agenda" type="text" readonly value="http://passerelle.test(/financements/calendrier/[^"]+)"', page).group(1)
    client.get("/deconnexion")
    anonymous = client.application.test_client()
    subscribed = anonymous.get(feed)
    assert subscribed.status_code == 200
    assert {str(e["uid"]) for e in Calendar.from_ical(subscribed.data).walk("VEVENT")} == set(events)
    assert anonymous.get(feed.replace("calendrier/", "calendrier/x")).status_code == 404
    db.delete(people.mayor_m)
    db.commit()
    assert anonymous.get(feed).status_code == 404

"""'Mes financements': the collectivité's eligible programmes and open calls, with facets, full-text
search through the shared index, the reasons, and the deadlines as an iCalendar feed."""
from __future__ import annotations

import datetime as dt
import html
import re

from icalendar import Calendar

from marketplace.core.clock import today
from marketplace.core.text import fold
from marketplace.funding import labels
from marketplace.funding import services as funding
from marketplace.funding.mine.services import Criteria, find
from search.indexing import without_indexing
from search.service import rebuild
from tenants.models import Role
from tests.factories import make_city, make_label, make_member, make_programme, make_user
from tests.helpers import sign_in


def text(response) -> str:
    return response.get_data(as_text=True)


def titles(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<h2 class="fr-card__title"><a href="[^"]+">([^<]+)</a>', page)]


def links(page: str) -> list[str]:
    return re.findall(r'<h2 class="fr-card__title"><a href="([^"]+)">', page)


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


def search(db, tenant, q: str = "", **facets) -> tuple:
    result = find(db, tenant, Criteria(q=q, facets={k: tuple(v) for k, v in facets.items()}), on=today())
    counts = {param: {f.value: (f.count, f.selected) for f in values} for param, values in result.facets.items()}
    return result, counts


def test_each_facet_counts_what_the_other_facets_leave(db, people):
    lighting, loan, schools, call = guichet(db, people)
    result, counts = search(db, people.city, nature=["call"])
    assert [item.key for item in result.page(1, 20)] == [f"call:{call.id}"] and result.total == 1
    assert counts["nature"] == {"programme": (3, False), "call": (1, True)}  # its own choice aside
    assert counts["aide"] == {"subvention": (1, False)}  # the call's programme is a grant
    assert counts["echelon"] == {"region": (1, False)}
    assert counts["calendrier"] == {"ouvert": (1, False), "cloture_proche": (1, False)}
    assert result.eligible_count == 4 and result.deadline_count == 3  # the call's two dates, the programme's closing

    # Two choices that nothing meets together: each facet still counts what the other leaves,
    # and a chosen value is listed at 0 so that it can be removed.
    result, counts = search(db, people.city, nature=["call"], aide=["pret"])
    assert result.total == 0 and result.page(1, 20) == []
    assert counts["nature"] == {"programme": (1, False), "call": (0, True)}  # the loan
    assert counts["aide"] == {"subvention": (1, False), "pret": (0, True)}  # the call
    assert counts["echelon"] == {} and counts["theme"] == {}


def test_the_second_page_continues_the_first_in_the_same_order(client, db, people):
    """Permanent programmes, all open: by title as people read it (accents and case aside), 20 a
    page, the count over every page."""
    names = [f"Programme {n:02d}" for n in range(1, 21)] + ["Éclairage des écoles", "eau potable", "Zones humides"]
    for name in names:
        make_programme(db, people.region, title=name)
    db.commit()
    expected = sorted(names, key=fold)
    assert expected[:2] == ["eau potable", "Éclairage des écoles"]
    sign_in(client, people.mayor, people.mayor_m)
    first = text(client.get("/espace/financements"))
    assert titles(first) == expected[:20]
    assert "<strong>23</strong> résultats" in first and "page=2" in first
    assert titles(text(client.get("/espace/financements?page=2"))) == expected[20:]
    assert titles(text(client.get("/espace/financements?aide=subvention&page=2"))) == expected[20:]
    assert titles(text(client.get("/espace/financements?page=3"))) == []


def test_items_alike_in_title_and_dates_keep_one_order_on_every_page(client, db, people):
    closes = today() + dt.timedelta(days=20)
    first = make_programme(db, people.region, title="Fonds commun")
    second = make_programme(db, people.region, title="Fonds commun")
    call_a = publish_call(db, first, "Appel commun", closes)
    call_b = publish_call(db, first, "Appel commun", closes)
    db.commit()
    # The calls close first; between twins, the first created comes first.
    expected = [f"/financements/{first.id}#appel-{call_a.id}", f"/financements/{first.id}#appel-{call_b.id}",
                f"/financements/{first.id}", f"/financements/{second.id}"]
    result, _ = search(db, people.city)
    assert [item.path for item in result.page(1, 20)] == expected
    assert [item.path for n in (1, 2) for item in result.page(n, 2)] == expected
    sign_in(client, people.mayor, people.mayor_m)
    for _ in range(2):
        assert links(text(client.get("/espace/financements"))) == expected


def test_a_change_of_a_programme_or_of_a_call_is_in_the_next_search(db, people):
    """What the list keeps between requests follows every change at once."""
    lighting, loan, schools, call = guichet(db, people)
    actor = make_user(db)
    assert [i.key for i in search(db, people.city, aide=["pret"])[0].page(1, 20)] == [f"programme:{loan.id}"]

    funding.update_programme(db, actor, schools, {"aid_types": ["pret"], "closes_on": today() + dt.timedelta(days=40)})
    db.commit()
    result, counts = search(db, people.city, aide=["pret"])
    assert [i.key for i in result.page(1, 20)] == [f"programme:{schools.id}", f"programme:{loan.id}"]
    assert counts["aide"] == {"subvention": (2, False), "pret": (2, True)}

    new = publish_call(db, loan, "Appel vélo 2027", today() + dt.timedelta(days=5))
    db.commit()
    assert [i.key for i in search(db, people.city, aide=["pret"])[0].page(1, 20)][0] == f"call:{new.id}"
    funding.update_call(db, actor, new, {"closes_on": today() + dt.timedelta(days=60)})
    db.commit()
    keys = [i.key for i in search(db, people.city, aide=["pret"])[0].page(1, 20)]
    assert keys == [f"programme:{schools.id}", f"call:{new.id}", f"programme:{loan.id}"]

    funding.close(db, actor, lighting)
    db.commit()
    result, _ = search(db, people.city)
    assert f"programme:{lighting.id}" not in {i.key for i in result.items} and result.eligible_count == 3


def test_a_search_without_words_asked_again_follows_the_day_the_labels_and_the_choices(db, people):
    """Mes financements keeps a search without words for the collectivité's offers and the day: the
    same visit again gives the same list; another day re-dates the calendar, a label's new list (no
    new eligibility generation) and other choices are counted afresh."""
    lighting, loan, schools, call = guichet(db, people)
    first, counts = search(db, people.city)
    again, counts_again = search(db, people.city)
    assert [i.key for i in again.items] == [i.key for i in first.items] and counts_again == counts
    assert counts["calendrier"]["cloture_proche"] == (1, False)  # the call closes in 10 days

    later = find(db, people.city, Criteria(), on=today() + dt.timedelta(days=20))
    assert {f.value for f in later.facets["calendrier"]} == {"ouvert"}  # the call has closed

    label = make_label(db, "Petites Villes de Demain (extrait)", ("45155",))  # Gien, not Issoudun
    listed = make_programme(db, people.region, title="Pour les petites villes", population_below=None,
                            scope=(("include", "label", label.slug),))
    db.commit()
    assert f"programme:{listed.id}" not in {i.key for i in search(db, people.city)[0].items}
    labels.upload_label_communes(db, make_user(db), label, "code_insee\n36088\n")
    db.commit()
    assert f"programme:{listed.id}" in {i.key for i in search(db, people.city)[0].items}

    only_loans, loan_counts = search(db, people.city, aide=["pret"])
    assert [i.key for i in only_loans.items] == [f"programme:{loan.id}"]
    assert loan_counts["aide"]["pret"] == (1, True)

"""What buyers do with the annuaire: compare, shortlist (private, exportable), contact a startup."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select

from marketplace.catalog import services as catalog
from marketplace.catalog.models import Lead, ShortlistItem
from marketplace.core.db import bound_to_tenant
from tenants.models import Role
from tests.factories import make_city, make_member, make_reference, make_solution, make_startup
from tests.helpers import sign_in


def published(db, n, **content):
    return [make_solution(db, make_startup(db, f"Startup {i}"), status="published", name=f"Solution {i}", **content)
            for i in range(1, n + 1)]


# Compare -----------------------------------------------------------------------------------------

def test_up_to_four_solutions_are_compared_side_by_side_from_a_shareable_url(client, db):
    solutions = published(db, 4)
    db.commit()
    ids = ",".join(str(s.id) for s in solutions)
    page = client.get(f"/solutions/comparer?ids={ids}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for s in solutions:
        assert s.name in text
    assert "Accord de traitement RGPD" in text and "Hébergement" in text and "80\u00a0€" in text
    # Repeated parameters (the checkboxes of the listing) work the same.
    repeated = "&".join(f"ids={s.id}" for s in solutions)
    assert client.get(f"/solutions/comparer?{repeated}").status_code == 200


def test_comparing_more_than_four_is_refused_in_french(client, db):
    solutions = published(db, 5)
    db.commit()
    page = client.get("/solutions/comparer?ids=" + ",".join(str(s.id) for s in solutions))
    assert page.status_code == 400
    assert "Vous pouvez comparer 4 solutions au plus : retirez-en 1 de la comparaison." in page.get_data(as_text=True)
    assert client.get("/solutions/comparer?ids=1,abc").status_code == 400


def test_a_shared_comparison_skips_solutions_no_longer_published(client, db):
    online = published(db, 1)[0]
    gone = make_solution(db, make_startup(db), status="archived", name="Retirée du catalogue")
    db.commit()
    page = client.get(f"/solutions/comparer?ids={online.id},{gone.id}").get_data(as_text=True)
    assert online.name in page and "Retirée du catalogue" not in page
    assert "1 solution de ce lien n'est plus publiée" in page


# Shortlist ---------------------------------------------------------------------------------------

def test_a_shortlist_is_private_to_its_collectivite(client, db, people):
    solution = published(db, 1)[0]
    other_city = make_city(db, "45155")
    other_buyer, other_m = make_member(db, other_city, Role.member)
    db.commit()
    sign_in(client, people.buyer, people.city_m)
    assert client.post("/espace/selection", data={"solution_id": solution.id}).status_code == 302
    item = db.scalars(select(ShortlistItem)).one()
    assert item.tenant_id == people.city.id
    client.post(f"/espace/selection/{item.id}/note", data={"note": "À présenter en commission"})
    assert "À présenter en commission" in client.get("/espace/selection").get_data(as_text=True)

    sign_in(client, other_buyer, other_m)
    page = client.get("/espace/selection").get_data(as_text=True)
    assert solution.name not in page and "Votre sélection est vide" in page
    assert client.post(f"/espace/selection/{item.id}/note", data={"note": "piraté"}).status_code == 404
    assert client.post(f"/espace/selection/{item.id}/retirer").status_code == 404
    assert solution.name not in client.get("/espace/selection.csv").get_data(as_text=True)
    with bound_to_tenant(db, other_city.id):
        assert catalog.shortlist(db, other_city) == []
        assert db.get(ShortlistItem, item.id) is None  # the guard, even through the identity map
    db.expire_all()
    assert db.get(ShortlistItem, item.id).note == "À présenter en commission"


def test_only_published_solutions_can_be_shortlisted(client, db, people):
    draft = make_solution(db, make_startup(db))
    db.commit()
    sign_in(client, people.buyer, people.city_m)
    assert client.post("/espace/selection", data={"solution_id": draft.id}).status_code == 404
    # A startup has no shortlist.
    sign_in(client, people.founder, people.startup_m)
    assert client.get("/espace/selection").status_code == 404


def test_the_shortlist_exports_to_csv_for_french_excel(client, db, people):
    first, second = published(db, 2)
    second.name = "=HYPERLINK(\"http://piege.test\")"  # written by another organisation
    make_reference(db, first, insee="36044")
    with bound_to_tenant(db, people.city.id):
        catalog.add_to_shortlist(db, people.buyer, people.city, first.id, "Prix à négocier ; voir DGS")
        catalog.add_to_shortlist(db, people.buyer, people.city, second.id)
    db.commit()
    sign_in(client, people.buyer, people.city_m)
    response = client.get("/espace/selection.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    header, *lines = rows
    assert header[:3] == ["Solution", "Startup", "Accroche"] and header[-3:] == ["Note", "Ajoutée le", "Lien"]
    assert len(lines) == 2
    row = dict(zip(header, lines[0]))
    assert row["Solution"] == "Solution 1" and row["Startup"] == "Startup 1"
    assert row["Prix minimum HT (€)"] == "80,00" and row["Prix maximum HT (€)"] == "150,00"
    assert row["Accord de traitement RGPD"] == "oui" and row["Hébergement"] == "En France"
    assert row["Références"] == "1" and row["Références vérifiées"] == "0"
    assert row["Note"] == "Prix à négocier ; voir DGS"  # the separator inside a cell survives
    assert row["Lien"] == f"http://passerelle.test/solutions/{first.id}"
    assert dict(zip(header, lines[1]))["Solution"].startswith("'=")  # no formula runs in the buyer's Excel


# Leads -------------------------------------------------------------------------------------------

def test_a_lead_is_recorded_mailed_and_seen_by_the_startup_only(client, db, people, redis):
    from marketplace.mail.models import OutgoingMail

    solution = make_solution(db, people.startup, status="published", contact_email="ventes@lumio.test")
    rival_startup = make_startup(db, "Concurrente")
    rival, rival_m = make_member(db, rival_startup)
    db.commit()
    sign_in(client, people.buyer, people.city_m)
    form = client.get(f"/solutions/{solution.id}/contacter")
    assert form.status_code == 200
    too_short = client.post(f"/solutions/{solution.id}/contacter", data={"message": "Bonjour"})
    assert too_short.status_code == 400 and "20 caractères" in too_short.get_data(as_text=True)
    message = "Nous équipons 3 000 points lumineux en 2027 : pouvez-vous nous faire une démonstration ?"
    assert client.post(f"/solutions/{solution.id}/contacter", data={"message": message}).status_code == 302

    lead = db.scalars(select(Lead)).one()
    assert (lead.tenant_id, lead.startup_tenant_id, lead.buyer_user_id) == (people.city.id, people.startup.id,
                                                                           people.buyer.id)
    [mail] = db.scalars(select(OutgoingMail)).all()
    assert mail.to == "ventes@lumio.test" and message in mail.body and people.buyer.email in mail.body
    assert "Vous avez contacté" in client.get(f"/solutions/{solution.id}").get_data(as_text=True)

    sign_in(client, people.founder, people.startup_m)
    page = client.get("/espace/demandes").get_data(as_text=True)
    assert message in page and people.city.name in page and people.buyer.email in page
    assert client.post(f"/espace/demandes/{lead.id}/traitee").status_code == 302
    db.refresh(lead)
    assert lead.handled_at is not None

    sign_in(client, rival, rival_m)
    assert message not in client.get("/espace/demandes").get_data(as_text=True)
    assert client.post(f"/espace/demandes/{lead.id}/traitee").status_code == 404
    with bound_to_tenant(db, rival_startup.id):
        assert catalog.leads_received(db, rival_startup) == []
        assert db.get(Lead, lead.id) is None


def test_a_startup_cannot_contact_itself_or_anyone(client, db, people):
    solution = make_solution(db, people.startup, status="published")
    db.commit()
    sign_in(client, people.founder, people.startup_m)
    assert client.get(f"/solutions/{solution.id}/contacter").status_code == 404


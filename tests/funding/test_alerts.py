"""Alerts: saved searches of 'Mes financements', confirmed by mail, mailed as digests of what is
new or changed, once per period, never the same version twice, stopped in one click."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re

from sqlalchemy import func, select

from marketplace.core.audit import AuditEvent
from marketplace.core.clock import today
from marketplace.core.db import all_tenants
from marketplace.funding import services as funding
from marketplace.funding.mine import alerts
from marketplace.funding.mine.services import Criteria
from marketplace.funding.mine.tasks import send_digests
from marketplace.funding.models import AlertStatus, FundingAlert, FundingAlertDigest, FundingEvent
from marketplace.mail.delivery import outbox
from tests.factories import make_programme
from tests.helpers import run_jobs, sign_in

LIGHTING = {"themes": ["eclairage-public"]}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def path_of(url: str) -> str:
    assert url.startswith("http://passerelle.test/")
    return url.removeprefix("http://passerelle.test")


def links(mail) -> list[str]:
    return re.findall(r"https?://\S+", mail.body)


def digests(settings) -> list:
    return [m for m in outbox(settings) if "nouveau" in m.subject]


def age(db, *objects, by: dt.timedelta) -> None:
    """Move publication and edit times back, as if these had happened earlier."""
    for obj in objects:
        for name in ("published_at", "updated_at", "created_at", "since", "confirmation_sent_at"):
            if getattr(obj, name, None) is not None:
                setattr(obj, name, getattr(obj, name) - by)
    db.commit()


def active_alert(db, people, criteria: Criteria, frequency: str = "daily") -> FundingAlert:
    alert = alerts.create_alert(db, people.mayor, people.city, {"name": "Éclairage", "email": "dgs@issoudun.test",
                                                                "frequency": frequency, "criteria": criteria})
    alerts.confirm(db, alert)
    db.commit()
    return alert


def test_an_alert_is_created_from_a_search_and_confirmed_by_mail(client, db, people, redis, settings):
    sign_in(client, people.mayor, people.mayor_m)
    page = text(client.get("/espace/financements?theme=eclairage-public&aide=subvention"))
    assert "/espace/alertes/nouvelle?theme=eclairage-public&aide=subvention" in page
    form = text(client.get("/espace/alertes/nouvelle?theme=eclairage-public&aide=subvention"))
    assert "Thématique : Éclairage public · Type d'aide : Subvention" in form

    # Bad input: French messages, nothing created, nothing sent.
    response = client.post("/espace/alertes/nouvelle?theme=eclairage-public",
                           data={"name": "", "email": "pas-une-adresse", "frequency": "hourly"})
    assert response.status_code == 400
    page = text(response)
    assert "Donnez un nom à cette alerte." in page and "Adresse électronique invalide." in page
    assert "Choisissez « chaque jour » ou « chaque semaine »." in page
    assert db.scalar(select(func.count()).select_from(FundingAlert)) == 0

    response = client.post("/espace/alertes/nouvelle?theme=eclairage-public&aide=subvention",
                           data={"name": "Éclairage public", "email": "dgs@issoudun.test", "frequency": "weekly"})
    assert response.status_code == 302 and response.headers["Location"] == "/espace/alertes"
    page = text(client.get("/espace/alertes"))
    assert "Un message de confirmation a été envoyé à dgs@issoudun.test" in page
    assert "En attente de confirmation" in page and "Chaque semaine (le lundi) à dgs@issoudun.test" in page
    alert = db.scalar(select(FundingAlert))
    assert alert.criteria == {"q": "", "theme": ["eclairage-public"], "aide": ["subvention"]}
    assert alert.status is AlertStatus.pending

    run_jobs(redis)
    [mail] = outbox(settings)
    assert mail.to == "dgs@issoudun.test" and "confirmez l'alerte « Éclairage public »" in mail.subject
    [link] = links(mail)
    confirm = path_of(link)
    # Opening the link does not confirm (mail scanners open links); the button does.
    assert "Confirmer mon adresse" in text(client.get(confirm))
    db.refresh(alert)
    assert alert.status is AlertStatus.pending
    anonymous = client.application.test_client()
    assert "L'alerte « Éclairage public » est active" in text(anonymous.post(confirm))
    db.refresh(alert)
    assert alert.status is AlertStatus.active and alert.confirmed_at is not None
    assert anonymous.post(confirm).status_code == 200  # a second click changes nothing
    assert anonymous.get(confirm.replace("/confirmer/", "/confirmer/x")).status_code == 404
    events = db.scalars(select(AuditEvent.event_type).where(AuditEvent.object_type == "funding_alerts")
                        .order_by(AuditEvent.id)).all()
    assert events == [FundingEvent.funding_alert_created, FundingEvent.funding_alert_confirmed]


def test_an_alert_created_today_sends_tomorrows_digest_once_with_only_the_new_items(app, db, people, redis, settings):
    old = make_programme(db, people.region, title="Éclairage : programme déjà connu", **LIGHTING)
    make_programme(db, people.region, title="Écoles sobres", themes=["energie-batiments"])
    db.commit()
    age(db, old, by=dt.timedelta(days=3))
    alert = active_alert(db, people, Criteria(facets={"theme": ("eclairage-public",)}))
    pending = alerts.create_alert(db, people.mayor, people.city, {  # never confirmed: never sent
        "name": "Non confirmée", "email": "autre@issoudun.test", "frequency": "daily", "criteria": Criteria()})
    db.commit()
    age(db, alert, pending, by=dt.timedelta(hours=1))  # created this morning
    new = make_programme(db, people.region, title="Éclairage des bourgs 2027", **LIGHTING)
    make_programme(db, people.region, title="Bâtiments basse consommation", themes=["energie-batiments"])
    make_programme(db, people.region, title="Éclairage en Bretagne", scope=(("include", "region", "53"),), **LIGHTING)
    db.commit()
    tomorrow = today() + dt.timedelta(days=1)

    send_digests.enqueue(tomorrow.isoformat(), connection=redis)
    run_jobs(redis)
    [mail] = digests(settings)
    assert mail.to == "dgs@issoudun.test"
    assert mail.subject == "Passerelle — 1 financement nouveau ou modifié : Éclairage"
    assert "[nouveau] Éclairage des bourgs 2027" in mail.body
    assert f"http://passerelle.test/financements/{new.id}" in mail.body
    assert "Éligible : commune de 11\u202f159 habitants" in mail.body
    assert "déjà connu" not in mail.body and "Bretagne" not in mail.body and "Bâtiments" not in mail.body

    # Once: the same day again sends nothing; the next day has nothing new.
    send_digests.enqueue(tomorrow.isoformat(), connection=redis)
    send_digests.enqueue((tomorrow + dt.timedelta(days=1)).isoformat(), connection=redis)
    run_jobs(redis)
    assert len(digests(settings)) == 1
    with all_tenants(db, because="the test reads every tenant"):
        assert db.scalar(select(func.count()).select_from(FundingAlertDigest)
                         .where(FundingAlertDigest.alert_id == pending.id)) == 0

    # A change to a programme already sent comes back once, as changed.
    funding.update_programme(db, people.funder, new, {"summary": "Taux porté à 50 % pour les communes rurales."})
    db.commit()
    for day in (2, 2, 3):
        send_digests.enqueue((tomorrow + dt.timedelta(days=day)).isoformat(), connection=redis)
        run_jobs(redis)
    changed = [m for m in digests(settings) if "[modifié]" in m.body]
    assert len(changed) == 1 and "Taux porté à 50 %" in changed[0].body
    assert len(digests(settings)) == 2


def test_a_weekly_alert_is_sent_on_mondays_only(db, people):
    alert = active_alert(db, people, Criteria(), frequency="weekly")
    monday = today() + dt.timedelta(days=7 - today().weekday())
    assert alerts.period_for(alert, monday) == f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}"
    assert all(alerts.period_for(alert, monday + dt.timedelta(days=n)) is None for n in range(1, 7))


def test_a_digest_whose_mail_was_lost_is_sent_by_the_next_run(app, db, people, redis, settings):
    alert = active_alert(db, people, Criteria(facets={"theme": ("eclairage-public",)}))
    age(db, alert, by=dt.timedelta(hours=1))
    make_programme(db, people.region, title="Éclairage des bourgs 2027", **LIGHTING)
    db.commit()
    tomorrow = today() + dt.timedelta(days=1)
    # The worker dies between the digest's commit and the mail's enqueue.
    outcome = alerts.digest_alert_id(db, alert.id, on=tomorrow)
    db.commit()
    assert outcome.items == 1 and digests(settings) == []
    with all_tenants(db, because="the test reads every tenant"):
        age(db, db.get(FundingAlertDigest, outcome.digest_id), by=dt.timedelta(hours=1))
    send_digests.enqueue(tomorrow.isoformat(), connection=redis)  # the same day's run again: no new digest, the owed mail
    run_jobs(redis)
    [mail] = digests(settings)
    assert "Éclairage des bourgs 2027" in mail.body
    send_digests.enqueue(tomorrow.isoformat(), connection=redis)
    run_jobs(redis)
    assert len(digests(settings)) == 1


def test_one_click_unsubscribe_from_the_digest(app, db, people, redis, settings):
    alert = active_alert(db, people, Criteria())
    age(db, alert, by=dt.timedelta(hours=1))
    make_programme(db, people.region, title="Éclairage des bourgs 2027", **LIGHTING)
    db.commit()
    send_digests.enqueue((today() + dt.timedelta(days=1)).isoformat(), connection=redis)
    run_jobs(redis)
    [mail] = digests(settings)
    raw = email.message_from_bytes(next(settings.outbox_dir.glob(f"{mail.id}.eml")).read_bytes(),
                                   policy=email.policy.default)
    unsubscribe = raw["List-Unsubscribe"].strip().strip("<>")
    assert raw["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in mail.body

    # The mail client posts without a session nor a CSRF token (RFC 8058).
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    assert "Me désabonner" in text(client.get(path_of(unsubscribe)))
    response = client.post(path_of(unsubscribe), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "ne recevra plus l'alerte" in text(response)
    db.refresh(alert)
    assert alert.status is AlertStatus.unsubscribed
    assert "Déjà désabonné" in text(client.get(path_of(unsubscribe)))

    make_programme(db, people.region, title="Éclairage des hameaux", **LIGHTING)
    db.commit()
    send_digests.enqueue((today() + dt.timedelta(days=2)).isoformat(), connection=redis)
    run_jobs(redis)
    assert len(digests(settings)) == 1


def test_managing_alerts_deletion_is_confirmed_and_resubscription_confirms_again(client, db, people, redis, settings):
    alert = active_alert(db, people, Criteria(q="éclairage"))
    alerts.unsubscribe(db, alert)
    db.commit()
    sign_in(client, people.mayor, people.mayor_m)
    page = text(client.get("/espace/alertes"))
    assert "Désabonnée" in page and "« éclairage »" in page
    # The confirmation went minutes ago: not again so soon (no mail cannon).
    client.post(f"/espace/alertes/{alert.id}/renvoyer")
    assert "Un message de confirmation vient d'être envoyé" in text(client.get("/espace/alertes"))
    db.refresh(alert)
    assert alert.status is AlertStatus.unsubscribed
    age(db, alert, by=dt.timedelta(minutes=11))
    assert client.post(f"/espace/alertes/{alert.id}/renvoyer").status_code == 302
    db.refresh(alert)
    assert alert.status is AlertStatus.pending
    run_jobs(redis)
    assert "confirmez l'alerte" in outbox(settings)[0].subject

    assert "Supprimer l'alerte « Éclairage » ?" in text(client.get(f"/espace/alertes/{alert.id}/supprimer"))
    assert client.post(f"/espace/alertes/{alert.id}/supprimer").status_code == 302
    assert db.scalar(select(func.count()).select_from(FundingAlert)) == 0
    assert "Aucune alerte pour le moment" in text(client.get("/espace/alertes"))


def test_an_expired_confirmation_link_says_so(client, db, people, monkeypatch):
    alert = alerts.create_alert(db, people.mayor, people.city, {"name": "Éclairage", "email": "dgs@issoudun.test",
                                                                "frequency": "daily", "criteria": Criteria()})
    db.commit()
    token = alerts.confirm_token(client.application.secret_key, alert)
    monkeypatch.setattr(alerts, "CONFIRM_MAX_AGE", -1)
    response = client.get(f"/alertes/confirmer/{token}")
    assert response.status_code == 410 and "Ce lien de confirmation a expiré" in text(response)


def test_an_item_the_index_had_not_yet_seen_goes_into_the_next_digest(app, db, people, redis, settings):
    from search.service import rebuild

    make_programme(db, people.region, title="Écoles sobres", themes=["energie-batiments"])
    db.commit()
    rebuild(settings.search_dir, db)
    alert = active_alert(db, people, Criteria(q="éclairage"))
    age(db, alert, by=dt.timedelta(hours=1))
    # Published, committed, but its indexing job has not run: today's words cannot find it.
    late = make_programme(db, people.region, title="Éclairage des bourgs 2027", **LIGHTING)
    db.commit()
    tomorrow = today() + dt.timedelta(days=1)
    send_digests.enqueue(tomorrow.isoformat(), connection=redis)
    run_jobs(redis)
    assert digests(settings) == []
    rebuild(settings.search_dir, db)
    send_digests.enqueue((tomorrow + dt.timedelta(days=1)).isoformat(), connection=redis)
    run_jobs(redis)
    [mail] = digests(settings)
    assert f"[nouveau] {late.title}" in mail.body


def test_an_old_link_never_reaches_a_new_alert_that_got_the_same_id(client, db, people):
    from tenants.models import Role
    from tests.factories import make_city, make_member

    first = active_alert(db, people, Criteria())
    unsubscribe = f"/alertes/desabonnement/{alerts.unsubscribe_token(client.application.secret_key, first)}"
    alerts.delete_alert(db, people.mayor, first)
    db.commit()
    other = make_city(db, "36044")
    user, _ = make_member(db, other, Role.admin)
    newer = alerts.create_alert(db, user, other, {"name": "Châteauroux", "email": "maire@chateauroux.test",
                                                  "frequency": "daily", "criteria": Criteria()})
    db.commit()
    assert client.get(unsubscribe).status_code == 404 and client.post(unsubscribe).status_code == 404
    db.refresh(newer)
    assert newer.status is AlertStatus.pending


def test_unsubscribing_drops_a_digest_still_owed_its_mail(app, db, people, redis, settings):
    alert = active_alert(db, people, Criteria())
    age(db, alert, by=dt.timedelta(hours=1))
    make_programme(db, people.region, title="Éclairage des bourgs 2027", **LIGHTING)
    db.commit()
    outcome = alerts.digest_alert_id(db, alert.id, on=today() + dt.timedelta(days=1))  # mail lost
    db.commit()
    alerts.unsubscribe(db, alert)
    db.commit()
    with all_tenants(db, because="the test reads every tenant"):
        age(db, db.get(FundingAlertDigest, outcome.digest_id), by=dt.timedelta(days=30))
    assert alerts.owed_mails(db) == []
    # Active again a month later: the stale digest is not sent.
    alert.status = AlertStatus.active
    db.commit()
    assert alerts.owed_mails(db) == []

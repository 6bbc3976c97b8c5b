"""gunicorn's settings for Passerelle: ``gunicorn -c python:marketplace.gunicorn_conf wsgi:app``.

gunicorn answers some requests itself, before the application sees them (a request line or headers
too long, a malformed request): those answers are in French too, like the application's own pages.
"""
from __future__ import annotations

import html

from gunicorn import util

# The request line may be 4 094 bytes long (gunicorn's default); longer answers 414.
limit_request_line = 4094

_FRENCH = {
    400: ("Requête invalide", "La demande envoyée n'a pas pu être comprise."),
    403: ("Accès refusé", "Cette demande n'est pas acceptée."),
    414: ("Adresse trop longue", "L'adresse demandée est trop longue pour être traitée."),
    417: ("Attente impossible", "Le serveur ne peut pas répondre à cette attente."),
    431: ("En-têtes trop volumineux", "Les en-têtes de la demande sont trop volumineux."),
    500: ("Erreur inattendue", "Désolé, le service rencontre un problème. Nous y travaillons."),
    501: ("Non pris en charge", "Ce mode de transfert n'est pas pris en charge."),
}


def _write_error(sock, status_int, reason, mesg):
    title, text = _FRENCH.get(status_int, (reason, ""))
    body = (f'<!doctype html>\n<html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)} — Passerelle'
            f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
            f"<p>Erreur {status_int}</p></body></html>\n").encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Language: fr\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


util.write_error = _write_error

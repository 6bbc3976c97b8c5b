"""Logos are checked by their bytes, not by their name, and served only with their solution."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from sqlalchemy import func, select

from marketplace.catalog import logos
from marketplace.catalog.models import Solution
from tests.factories import SOLUTION_DATA, make_solution
from tests.helpers import sign_in


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def form_data(**extra):
    data = {k: v for k, v in SOLUTION_DATA.items() if isinstance(v, str)}
    data.update(domains=["eclairage-public"], sizes=["2000-20000"], **extra)
    return data


def test_the_kind_comes_from_the_bytes():
    assert logos.sniff(tiny_png()) == "png"
    assert logos.sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "jpg"
    assert logos.sniff(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>") is None
    assert logos.sniff(b"\x89PNG\r\n\x1a\nbut then some text") is None
    with pytest.raises(logos.LogoRejected, match="1 Mo"):
        logos.check_logo(b"\xff\xd8\xff" + b"0" * logos.MAX_LOGO_BYTES)


def test_a_renamed_text_file_is_refused(client, db, people, settings):
    sign_in(client, people.founder, people.startup_m)
    response = client.post("/espace/solutions/nouvelle", content_type="multipart/form-data",
                           data=form_data(logo=(io.BytesIO(b"Ceci n'est pas une image.\n"), "logo.png", "image/png")))
    assert response.status_code == 400
    assert "Le logo doit être une image PNG ou JPEG." in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Solution)) == 0
    assert not (settings.uploads_dir / logos.LOGO_DIR).exists() or not any((settings.uploads_dir / logos.LOGO_DIR).iterdir())


def test_a_png_logo_is_stored_under_our_name_and_served_with_its_solution(app, client, db, people, settings):
    sign_in(client, people.founder, people.startup_m)
    png = tiny_png()
    response = client.post("/espace/solutions/nouvelle", content_type="multipart/form-data",
                           data=form_data(logo=(io.BytesIO(png), "../../etc/passwd.svg", "image/svg+xml")))
    assert response.status_code == 302
    solution = db.scalars(select(Solution)).one()
    assert solution.logo.endswith(".png") and "passwd" not in solution.logo
    assert (settings.uploads_dir / logos.LOGO_DIR / solution.logo).read_bytes() == png

    served = client.get(f"/solutions/{solution.id}/logo")
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == png
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    # A draft's logo is as private as the draft.
    assert app.test_client().get(f"/solutions/{solution.id}/logo").status_code == 404


def test_a_new_logo_on_a_published_solution_waits_for_review(client, db, people, settings):
    solution = make_solution(db, people.startup, status="published")
    db.commit()
    sign_in(client, people.founder, people.startup_m)
    response = client.post(f"/espace/solutions/{solution.id}/modifier", content_type="multipart/form-data",
                           data=form_data(logo=(io.BytesIO(tiny_png()), "logo.png", "image/png")))
    assert response.status_code == 302
    db.refresh(solution)
    assert solution.logo is None and solution.pending_revision.content["logo"].endswith(".png")
    assert client.get(f"/solutions/{solution.id}/logo?version=proposee").status_code == 200
    sign_in(client, people.buyer, people.city_m)
    assert client.get(f"/solutions/{solution.id}/logo?version=proposee").status_code == 404
    assert client.get(f"/solutions/{solution.id}/logo").status_code == 404  # none published yet

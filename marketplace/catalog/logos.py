"""Solution logos: checked by their content, stored under the uploads folder with a name we choose."""
from __future__ import annotations

import secrets
from pathlib import Path

MAX_LOGO_BYTES = 1024 * 1024
LOGO_DIR = "logos"

# Magic bytes. The extension and the Content-Type sent by the browser are the client's word and
# are ignored: a renamed text (or HTML, or SVG with scripts) file must not be served as an image.
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
MIMETYPES = {"png": "image/png", "jpg": "image/jpeg"}


class LogoRejected(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def sniff(data: bytes) -> str | None:
    """'png', 'jpg' or None, from the first bytes of the file."""
    # A PNG's first chunk is always IHDR: checking it too refuses a text file that merely starts
    # with the signature.
    if data.startswith(_PNG) and data[12:16] == b"IHDR":
        return "png"
    if data.startswith(_JPEG):
        return "jpg"
    return None


def check_logo(data: bytes) -> str:
    """The file's kind, or LogoRejected with a French message."""
    if not data:
        raise LogoRejected("Le fichier envoyé est vide.")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoRejected("Le logo dépasse 1 Mo : réduisez-le avant de l'envoyer.")
    kind = sniff(data)
    if kind is None:
        raise LogoRejected("Le logo doit être une image PNG ou JPEG.")
    return kind


def store_logo(uploads_dir: Path, data: bytes) -> str:
    """Write a checked logo; returns its stored name (random: it says nothing about the solution).

    The file is written before the transaction commits (writing after the commit could leave a row
    pointing at a file that never arrived); the caller removes it if the transaction is rolled back
    (``remove_logo`` with ``marketplace.core.db.after_rollback``).
    """
    kind = check_logo(data)
    folder = uploads_dir / LOGO_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{kind}"
    (folder / name).write_bytes(data)
    return name


def logo_path(uploads_dir: Path, name: str) -> Path | None:
    # Stored names are ours (hex + extension): anything else is not a logo of this application.
    stem, _, ext = name.partition(".")
    if ext not in MIMETYPES or len(stem) != 32 or not all(c in "0123456789abcdef" for c in stem):
        return None
    path = uploads_dir / LOGO_DIR / name
    return path if path.is_file() else None


def remove_logo(uploads_dir: Path, name: str) -> None:
    path = logo_path(uploads_dir, name)
    if path is not None:
        path.unlink(missing_ok=True)

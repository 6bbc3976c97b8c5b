"""The spelling vocabulary of an index: the folded words its documents write, in a sorted file beside
the index (``vocabulary.txt``), from which "vouliez-vous dire" picks its corrections.

It used to be a second text field of the index, which analysed every text twice and held 40 % of
its postings, for a list of words. A rebuild writes the file whole; each batch the follower applies
adds the words it brought (a word of a document since removed stays: a correction is only offered
when its term is in some document, ``search.query._correct`` checks). A corrector is built once per
version of the file.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from whoosh.spelling import ListCorrector

from search.analysis import spelling_word

FILE = "vocabulary.txt"
_WORD = re.compile(r"\w+")
_COMPOUND = re.compile(r"\w+(?:-\w+)+")
_lock = threading.Lock()
_cache: dict[str, tuple[float, list[str], ListCorrector]] = {}


def raw_words(text: str) -> set[str]:
    """The distinct words of a text as written, hyphenated compounds also joined (cheap: folding is
    done once per distinct word, by ``folded``)."""
    words = set(_WORD.findall(text))
    if "-" in text:
        words.update(m.replace("-", "") for m in _COMPOUND.findall(text))
    return words


def folded(raw: Iterable[str]) -> set[str]:
    return {w for r in raw if (w := spelling_word(r))}


def _path(index_dir: Path) -> Path:
    return Path(index_dir) / FILE


def write(index_dir: Path, words: Iterable[str]) -> None:
    path = _path(index_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(sorted(set(words))), encoding="utf-8")
    os.replace(tmp, path)


def _load(index_dir: Path) -> tuple[list[str], ListCorrector] | None:
    path = _path(index_dir)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    with _lock:
        cached = _cache.get(str(path))
        if cached is None or cached[0] != mtime:
            words = [w for w in path.read_text(encoding="utf-8").split("\n") if w]
            if len(_cache) > 8:
                _cache.clear()
            _cache[str(path)] = cached = (mtime, words, ListCorrector(words))
        return cached[1], cached[2]


def add(index_dir: Path, raw: Iterable[str]) -> int:
    """Add the words of new or changed documents; returns how many were new."""
    loaded = _load(index_dir)
    known = set(loaded[0]) if loaded else set()
    new = folded(raw) - known
    if new:
        write(index_dir, known | new)
    return len(new)


def corrector(index_dir: Path) -> ListCorrector | None:
    loaded = _load(index_dir)
    return loaded[1] if loaded and loaded[0] else None  # no word at all: nothing to correct to

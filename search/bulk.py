"""A faster writer for a full rebuild: the same on-disk index as Whoosh's own writer, written in
bulk.

Whoosh's ``SegmentWriter`` handles every posting (one word of one field of one document) several
times in Python: counted from the analyzer's tokens, put as a tuple into a sorting pool (which
spills to temporary files past ``limitmb`` and merges them back), its field length read back from
the column file just written — with a file-system ``stat`` for every posting of a field that keeps
no lengths —, then one call per posting into the postings writer. Here a document's words are
counted once (``Counter``), each posting is two appends to its term's arrays, and each term's
postings are handed to Whoosh's postings writer one block (128 postings) at a time, in the
format Whoosh writes (the same blocks, statistics, term infos and files).

Only for a new, empty index and new documents (no deletions, no merge): the rebuild. Everything
else (the follower's updates) uses Whoosh's own writer. ``tests/search/test_bulk.py`` checks that
both give the same postings, lengths, stored fields, columns and searches.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import operator
import shutil
import sys
from array import array
from collections import Counter
from pathlib import Path

from whoosh import formats
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec, W3PostingsWriter, W3Segment
from whoosh.index import TOC
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter


class Unsupported(RuntimeError):
    """What the bulk writer refuses by design: it writes a new index of frequency-only text fields
    in one pass, nothing else. ``supports(schema)`` is checked before it is chosen (the rebuild
    uses Whoosh's own writer otherwise), so these refusals only guard against misuse."""

class _PostingsWriter(W3PostingsWriter):
    def _mini_ids(self):
        # delta_encode, in C (map over two slices) rather than a generator per posting.
        ids = self._ids
        if self._byteids or not ids:
            return super()._mini_ids()
        return (ids[0], *map(operator.sub, ids[1:], ids[:-1]))


class _Codec(W3Codec):
    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression, inlinelimit=self._inlinelimit)

    def new_segment(self, storage, indexname):
        # The segment (pickled in the index's table of contents) names Whoosh's own codec: readers
        # need nothing of this module.
        return W3Segment(W3Codec(self._blocklimit, self._compression, self._inlinelimit), indexname)


class _Counts:
    """A Frequency field's postings: term (text) → docnums and frequencies."""

    __slots__ = ("terms", "lengths")

    def __init__(self):
        self.terms: dict[str, tuple[array, array]] = {}
        self.lengths = array("I")  # docnum → length as stored (quantised to one byte), 0 if none


class _Generic:
    """Any other field's postings: term → docnums, weights, value bytes."""

    __slots__ = ("terms", "memo")

    def __init__(self):
        self.terms: dict[bytes, tuple[array, list, list]] = {}
        self.memo: dict = {}  # value → its (term bytes, weight, value bytes)


class BulkWriter(SegmentWriter):
    """``ix.writer()`` for a rebuild: ``add_document`` only, then ``commit()``."""

    def __init__(self, ix, **kwargs):
        # Checked before the index's lock is taken.
        if not ix.is_empty():
            raise ValueError("BulkWriter writes a new index only")
        if not self.supports(ix.schema):
            raise Unsupported("BulkWriter: this schema needs Whoosh's writer")
        kwargs.setdefault("codec", _Codec())
        super().__init__(ix, **kwargs)
        self._fields: dict[str, _Counts | _Generic] = {}

    def delete_document(self, docnum, delete=True):
        raise Unsupported("BulkWriter only adds documents")

    def add_reader(self, reader):
        raise Unsupported("BulkWriter does not merge")

    def update_document(self, **fields):
        # A new index holds no document with this key yet.
        self.add_document(**fields)

    @staticmethod
    def supports(schema) -> bool:
        """Whether every field of this schema can be written in bulk: text fields that keep
        frequencies (no positions), and fields that keep no lengths."""
        for _name, field in schema.items():
            if field.separate_spelling() or field.vector:
                return False
            if field.indexed and field.scorable and (type(field.format) is not formats.Frequency
                                                     or field.format.field_boost != 1.0 or field.analyzer is None):
                return False
        return True

    @staticmethod
    def _words(field, value) -> list[str]:
        direct = getattr(field.analyzer, "terms_of", None)
        if direct is not None:  # our French analysis gives its terms as a list: no Token per word
            return direct(value)
        words = []
        for token in field.analyzer(value, mode="index", boosts=True):
            if token.stopped:
                continue
            if token.boost != 1.0:
                raise Unsupported("BulkWriter: weighted tokens need Whoosh's writer")
            words.append(token.text)
        return words

    def add_document(self, **fields):
        # The steps of SegmentWriter.add_document, the postings kept here instead of in the pool.
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    boost = self._field_boost(fields, fieldname, docboost)
                    if field.scorable:
                        if boost != 1.0 or not isinstance(value, str):
                            raise Unsupported("BulkWriter: boosted or pre-analysed text needs Whoosh's writer")
                        length = self._add_counts(fieldname, docnum, self._words(field, value))
                    else:
                        self._add_generic(fieldname, field, docnum, value, boost)
                stored = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
                column = field.column_type
                if column and stored is not None:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(stored))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_counts(self, fieldname, docnum, words) -> int:
        postings = self._fields.get(fieldname)
        if postings is None:
            postings = self._fields[fieldname] = _Counts()
        terms = postings.terms
        get = terms.get
        for word, freq in Counter(words).items():
            entry = get(word)
            if entry is None:
                entry = terms[word] = (array("I"), array("I"))
            entry[0].append(docnum)
            entry[1].append(freq)
        length = len(words)
        lengths = postings.lengths
        if len(lengths) <= docnum:
            lengths.extend([0] * (docnum + 1 - len(lengths)))
        if length:
            lengths[docnum] = byte_to_length(length_to_byte(length))
        return length

    def _add_generic(self, fieldname, field, docnum, value, boost) -> None:
        postings = self._fields.get(fieldname)
        if postings is None:
            postings = self._fields[fieldname] = _Generic()
        terms = postings.terms
        # Facets and numbers repeat from one document to the next: their terms are computed once.
        try:
            items = postings.memo.get(value)
        except TypeError:  # a list of keywords: not hashable
            items = None
        if items is None:
            items = [(tbytes, weight, vbytes) for tbytes, _freq, weight, vbytes in field.index(value)]
            if len(postings.memo) > MEMO_MAX:
                postings.memo.clear()
            with contextlib.suppress(TypeError):
                postings.memo[value] = items
        for tbytes, weight, vbytes in items:
            entry = terms.get(tbytes)
            if entry is None:
                entry = terms[tbytes] = (array("I"), [], [])
            entry[0].append(docnum)
            entry[1].append(weight * boost)
            if vbytes:
                entry[2].append(vbytes)

    def commit(self, mergetype=None, optimize=None, merge=None):
        # Nothing to merge: the index was empty.
        super().commit(merge=False)

    def finish_segment(self):
        """Write this writer's segment and return it, without listing it in the index (for a
        parent that lists several at once); None if no document was added."""
        segment = self._finalize_segment() if self._added else None
        if segment is None:
            self._close_segment()
        # Not self._finish(): it would delete the temporary folder, which is named after the index
        # and shared by every process writing a segment of it; the parent deletes it at the end.
        if self.writelock:
            self.writelock.release()
        self.is_closed = True
        return segment

    def _flush_segment(self):
        self.perdocwriter.close()
        fieldwriter = self.fieldwriter
        for fieldname in sorted(self._fields):
            postings = self._fields.pop(fieldname)
            fieldwriter.start_field(fieldname, self.schema[fieldname])
            writer = fieldwriter._postwriter
            terms = postings.terms
            # Counted terms are kept as text: UTF-8 sorts as the code points do.
            for term in sorted(terms):
                if type(postings) is _Counts:
                    fieldwriter.start_term(term.encode("utf-8"))
                    ids, freqs = terms.pop(term)
                    _write_counts(writer, ids, freqs, postings.lengths)
                else:
                    fieldwriter.start_term(term)
                    ids, weights, values = terms.pop(term)
                    _write_generic(writer, ids, weights, values)
                fieldwriter.finish_term()
            fieldwriter.finish_field()
        fieldwriter.close()


MEMO_MAX = 100_000
BLOCK = 128  # W3Codec's blocklimit: postings per block, as Whoosh's writer fills them


def _be(values: array) -> bytes:
    """Unsigned ints as Whoosh's pack_uint writes them (network order), all at once."""
    if sys.byteorder == "little":
        values = array("I", values)
        values.byteswap()
    return values.tobytes()


def _write_counts(writer, ids: array, freqs: array, lengths: array) -> None:
    """One term's postings, a block at a time, as W3PostingsWriter.add_posting buffers them: the
    weight of a posting is its frequency, its value the frequency packed."""
    total = len(ids)
    for start in range(0, total, BLOCK):
        end = min(total, start + BLOCK)
        block_ids = ids[start:end]
        block_freqs = freqs[start:end]
        writer._ids = block_ids
        writer._weights = array("f", block_freqs)
        writer._values = [_be(block_freqs)]  # joined by _mini_values, as the packed values would be
        writer._maxweight = float(max(block_freqs))
        block_lengths = [n for n in map(lengths.__getitem__, block_ids) if n]
        writer._minlength = min(block_lengths) if block_lengths else None
        writer._maxlength = max(block_lengths, default=0)
        if end < total:
            writer._write_block()


def _write_generic(writer, ids: array, weights: list, values: list) -> None:
    total = len(ids)
    for start in range(0, total, BLOCK):
        end = min(total, start + BLOCK)
        block_weights = weights[start:end]
        writer._ids = ids[start:end]
        writer._weights = array("f", block_weights)
        writer._values = values[start:end] if values else []
        writer._maxweight = max(0, max(block_weights))
        writer._minlength, writer._maxlength = None, 0
        if end < total:
            writer._write_block()


# Several processes ----------------------------------------------------------------------------------
# Analysis and postings are pure Python: one process uses one core. For a large rebuild the
# documents are handed, in batches, to worker processes that each write one segment of the new
# index with a BulkWriter; their segments are then listed in the index's table of contents at
# once (what Whoosh's own multiprocessing writer does with ``multisegment=True``).

BATCH = 500


def _segment_worker(index_dir: str, batches, results) -> None:
    try:
        ix = whoosh_index.open_dir(index_dir)
        writer = BulkWriter(ix, _lk=False)  # the parent holds the index's lock
        for batch in iter(batches.get, None):
            for fields in batch:
                writer.add_document(**fields)
        results.put(("ok", writer.finish_segment()))
    except BaseException as exc:  # told to the parent, which fails the rebuild
        results.put(("error", f"{type(exc).__name__}: {exc}"))


class ParallelBuild:
    """``add_document`` in the parent, written by ``procs`` worker processes; ``commit()`` lists
    their segments in the index. For a new, empty index."""

    def __init__(self, ix, procs: int):
        if not ix.is_empty():
            raise ValueError("ParallelBuild writes a new index only")
        if not BulkWriter.supports(ix.schema):
            raise Unsupported("ParallelBuild: this schema needs Whoosh's writer")
        self.ix = ix
        self.lock = ix.lock("WRITELOCK")
        if not self.lock.acquire():
            raise whoosh_index.LockError
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads and sockets
        self.results = context.Queue()
        self.queues = [context.Queue(maxsize=4) for _ in range(procs)]
        self.workers = [context.Process(target=_segment_worker, args=(str(ix.storage.folder), q, self.results),
                                        daemon=True) for q in self.queues]
        for worker in self.workers:
            worker.start()
        self.batch: list[dict] = []
        self.sent = 0

    def add_document(self, **fields) -> None:
        self.batch.append(fields)
        if len(self.batch) >= BATCH:
            self._send()

    def _send(self) -> None:
        if self.batch:
            self.queues[self.sent % len(self.queues)].put(self.batch)
            self.sent += 1
            self.batch = []

    def commit(self) -> None:
        try:
            self._send()
            for queue in self.queues:
                queue.put(None)
            segments, errors = [], []
            for _ in self.workers:
                status, value = self.results.get()
                (segments if status == "ok" else errors).append(value)
            for worker in self.workers:
                worker.join()
            if errors:
                raise RuntimeError("reconstruction de l'index : " + "; ".join(errors))
            segments = [s for s in segments if s is not None]
            TOC(self.ix.schema, segments, self.ix.latest_generation() + 1).write(self.ix.storage, self.ix.indexname)
        finally:
            self._stop()

    def cancel(self) -> None:
        self._stop()

    def _stop(self) -> None:
        for worker in self.workers:
            if worker.is_alive():
                worker.kill()
            worker.join()
        shutil.rmtree(Path(self.ix.storage.folder) / f"{self.ix.indexname}.tmp", ignore_errors=True)
        self.lock.release()

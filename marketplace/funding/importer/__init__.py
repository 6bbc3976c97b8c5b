"""Import funding programmes from a CSV or XLSX file (Aides-territoires exports first). No Flask.

A file is read into rows with their line numbers (as a spreadsheet numbers them: the header is
line 1), its columns are recognised by their headers, each row is mapped to Passerelle's
vocabularies and validated by the programme form's own schema, then:

- a **new source id** (the "Identifiant" column, else the link's address) creates a programme, as a
  **draft** of the importing operator: the file gives no territory, and a programme cannot be
  submitted to ANCT without one (``services._check_publishable``); its funder completes the
  territory and the themes, then submits it as any other;
- a **known source id** is compared with what the source gave last time (``source_content``, not
  the live programme, which its funder may have edited since):
  identical → unchanged; only dates differ → applied at once (a new version, audited, re-indexed:
  ``services.update_programme``), a date is a fact, not an editorial choice; anything else
  differs → **held** in ``pending_changes`` until a curator accepts or discards it, the published
  version staying online meanwhile;
- a row that cannot make a programme (no title, no valid link, no funder level, nothing of its
  beneficiaries or aid types known to Passerelle, an unreadable date) is **rejected** with its
  line number and the reasons; the same source id twice in one file: the second is rejected.

Values the source has and Passerelle has not (the beneficiaries "Particuliers", the aid type
"Autre aide financière"…) are listed in the report, never silently dropped.

The whole file is one transaction: the caller commits once. A file that cannot be read (neither CSV
nor XLSX, empty, too big, a required column missing) raises ``ImportFileError`` in French before
anything is written. Running the same file twice changes nothing and reports every line unchanged.

The package reads in ``source`` (the file, its columns), maps in ``mapping`` (Aides-territoires
words, and a row into a programme's content) and writes in ``runs`` (the import run and its
report, the held changes a curator accepts or discards).
"""

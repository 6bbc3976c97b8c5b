"""What one feature tells the others without importing them (blinker signals, Flask's own library).

A feature sends, in the transaction of the change; a receiver registered by another feature's
``tasks`` module queues its work after the commit (``jobs.BoundJob.after_commit``), so a rolled-back
change tells nobody. Receivers must be quick and never fail the sender's transaction.

    programme_changed.send(session, programme_id=12)   # the guichet: a programme or its calls changed
    solution_changed.send(session, solution_id=7)       # the annuaire: a solution changed
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

programme_changed = _signals.signal("programme-changed")
solution_changed = _signals.signal("solution-changed")

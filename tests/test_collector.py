"""The web workers' garbage collector: the heap is frozen once the app is built, refreshed between
requests now and then, and a cycle that became garbage while frozen is freed at the refresh."""
from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import pytest

from marketplace import gunicorn_conf
from marketplace.core import collector


@pytest.fixture(autouse=True)
def _collector_as_before():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_settle_freezes_what_the_worker_holds_and_spaces_the_collections():
    held = Node()
    collector.settle()
    assert gc.get_freeze_count() > 0
    assert gc.is_tracked(held) and held not in gc.get_objects()  # frozen objects are not walked
    assert gc.get_threshold() == (collector.YOUNG, collector.MIDDLE, collector.OLD)


def test_a_cycle_that_became_garbage_while_frozen_is_freed_at_the_refresh():
    node = Node()
    gone = weakref.ref(node)
    collector.settle()
    del node
    gc.collect()
    assert gone() is not None  # frozen: a collection does not see it
    clock = SimpleNamespace(now=0.0)
    kept = collector.Collector(every_requests=3, every_seconds=600, clock=lambda: clock.now)
    assert [kept.after_request() for _ in range(2)] == [False, False]
    assert gone() is not None
    assert kept.after_request() is True
    assert gone() is None
    assert gc.get_freeze_count() > 0  # the survivors are frozen again


def test_a_quiet_worker_refreshes_after_the_delay_and_counts_again_from_there():
    clock = SimpleNamespace(now=0.0)
    kept = collector.Collector(every_requests=1000, every_seconds=600, clock=lambda: clock.now)
    clock.now = 599.0
    assert kept.after_request() is False
    clock.now = 600.0
    assert kept.after_request() is True and kept.refreshes == 1
    clock.now = 1199.0
    assert kept.after_request() is False


def test_the_gunicorn_hooks_settle_each_worker_and_count_its_requests():
    said = []
    worker = SimpleNamespace(log=SimpleNamespace(info=lambda message, *args: said.append(message % args)))
    gunicorn_conf.post_worker_init(worker)
    assert isinstance(worker.collector, collector.Collector) and gc.get_freeze_count() > 0
    assert said == [f"garbage collector: {gc.get_freeze_count()} objects frozen"]
    gunicorn_conf.post_request(worker, None, {}, None)
    assert worker.collector.requests == 1
    gunicorn_conf.post_request(SimpleNamespace(), None, {}, None)  # a worker without one: nothing to do

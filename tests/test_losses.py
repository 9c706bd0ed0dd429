from concurrent.futures import BrokenExecutor, Future

import pytest

from curvetune.losses import LossLedger


def _failed(error: BaseException) -> Future:
    future: Future = Future()
    future.set_exception(error)
    return future


def _finished() -> Future:
    future: Future = Future()
    future.set_result("ok")
    return future


def test_a_loss_of_its_own_costs_a_whole_retry():
    ledger = LossLedger()
    assert ledger.charge(TimeoutError("hung"), [Future(), _finished()]) == 1.0
    assert ledger.charge(BrokenExecutor("pool broke"), []) == 1.0


def test_a_broken_pool_shares_one_retry_among_the_segments_it_took_down():
    ledger = LossLedger()
    broke = BrokenExecutor("a worker died")
    others = [_failed(broke), Future(), _finished()]  # the finished one got away
    charges = [ledger.charge(broke, others) for _ in range(3)]
    assert charges == pytest.approx([1 / 3] * 3)
    assert sum(charges) == pytest.approx(1.0)


def test_each_breakage_is_counted_on_its_own():
    ledger = LossLedger()
    first, second = BrokenExecutor("one"), BrokenExecutor("two")
    assert ledger.charge(first, [_failed(first)]) == 0.5
    assert ledger.charge(second, []) == 1.0
    assert ledger.charge(first, []) == 0.5
    assert ledger.charge(first, [_failed(first)]) == 0.5  # a new round for the same object

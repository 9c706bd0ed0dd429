from concurrent.futures import BrokenExecutor, Future

import pytest

from curvetune.control.losses import LossLedger


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
    assert ledger.charge(Future(), TimeoutError("hung"), [Future(), _finished()]) == 1.0
    assert ledger.charge(Future(), BrokenExecutor("pool broke"), []) == 1.0


def test_a_broken_pool_shares_one_retry_among_the_segments_it_took_down():
    ledger = LossLedger()
    broke = BrokenExecutor("a worker died")
    others = [_failed(broke), Future(), _finished()]  # the finished one got away
    charges = [ledger.charge(Future(), broke, others) for _ in range(3)]
    assert charges == pytest.approx([1 / 3] * 3)
    assert sum(charges) == pytest.approx(1.0)


def test_each_breakage_is_counted_on_its_own():
    ledger = LossLedger()
    first, second = BrokenExecutor("one"), BrokenExecutor("two")
    assert ledger.charge(Future(), first, [_failed(first)]) == 0.5
    assert ledger.charge(Future(), second, []) == 1.0
    assert ledger.charge(Future(), first, []) == 0.5
    assert ledger.charge(Future(), first, [_failed(first)]) == 0.5  # a new round


def test_bystanders_of_a_stopped_hung_segment_pay_nothing():
    ledger = LossLedger()
    bystander, finished = Future(), _finished()
    ledger.spare([bystander, finished])
    assert ledger.charge(bystander, RuntimeError("pool shut down"), []) == 0.0
    ledger.settle(bystander)
    assert ledger.charge(bystander, RuntimeError("later"), []) == 1.0

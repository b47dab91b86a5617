"""Property: no sequence of reads and payments opens the exit for an unpaid visit."""
from __future__ import annotations

from datetime import timedelta

import pytest
from gate_support import at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from gate.rules.errors import GateError
from gate.rules.tariff import Tariff, fee_agorot
from gate.store.models import metadata, payments

pytestmark = pytest.mark.slow  # a property search: hundreds of ledgers

# near plates on purpose: misreads must not let the wrong car out unpaid
PLATES = ["1234567", "1234568", "7654321", "76543210"]
# minutes between steps: around the free period, the grace period, hour and day
# boundaries, and backwards
STEP = st.sampled_from([-20, 0, 1, 5, 14, 16, 20, 45, 61, 130, 1500])

op = st.one_of(
    st.tuples(st.just("entry"), st.sampled_from(PLATES), STEP),
    st.tuples(st.just("exit"), st.sampled_from(PLATES), STEP),
    st.tuples(st.just("exit"), st.sampled_from(PLATES), STEP),
    st.tuples(st.just("pay"), st.sampled_from(PLATES), STEP, st.sampled_from(["a", "b", None])),
    st.tuples(st.just("waive"), st.sampled_from(PLATES), st.just(0)),
)


def _reset(ledger) -> None:
    with ledger.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))


def _payments(ledger, visit_id):
    with ledger.engine.connect() as conn:
        return conn.execute(select(payments).where(payments.c.visit_id == visit_id)).all()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=25))
def test_no_sequence_of_reads_and_payments_opens_an_unpaid_exit(ledger, ops):
    _reset(ledger)
    tariff: Tariff = ledger.tariff
    clock = 0
    waived: set[int] = set()
    for step in ops:
        kind, plate, dt = step[0], step[1], step[2]
        clock += dt  # may go backwards
        when = at(clock)
        if kind == "pay":
            try:
                ledger.pay(plate, when, payment_id=step[3] and f"{step[3]}-{plate}")
            except GateError:
                pass  # no open visit / clock went back / replay conflict: refused, nothing changes
            continue
        if kind == "waive":
            try:
                waived.add(ledger.waive("op", "test", plate=plate, at=when).id)
            except GateError:
                pass
            continue
        decision = ledger.decide(kind, plate, when)
        assert decision.amount_due >= 0
        if kind == "exit" and decision.action == "open" and decision.visit_id is not None:
            visit = ledger.visit(decision.visit_id)
            assert visit.state == "closed" and visit.exit_at == when and visit.entry_at <= when
            if visit.id in waived:
                continue
            owed_now = fee_agorot(tariff, visit.entry_at, when)
            covered_by_grace = any(
                p.paid_at <= when <= p.paid_at + timedelta(minutes=tariff.grace_minutes)
                and fee_agorot(tariff, visit.entry_at, p.paid_at) <= visit.paid_agorot
                for p in _payments(ledger, visit.id)
            )
            assert owed_now <= visit.paid_agorot or covered_by_grace, (visit, decision)
        if kind == "exit" and decision.action == "deny" and decision.reason == "unpaid":
            assert decision.amount_due > 0

    open_plates = [v.plate for v in ledger.visits(inside=True)]
    assert len(open_plates) == len(set(open_plates))
    for visit in ledger.visits():
        assert visit.paid_agorot == sum(p.amount_agorot for p in _payments(ledger, visit.id))
        assert visit.fee_agorot is None or visit.fee_agorot >= 0

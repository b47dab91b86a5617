"""A config reload and the operations running beside it (gate serve decides in worker threads while SIGHUP
swaps the config on its event loop): each operation works under one config, the one current when it began."""
from __future__ import annotations

from pathlib import Path

from gate_support import at

import gate.store.ledger as ledger_module
from gate.reload import ConfigReloader
from gate.rules.money import to_shekels

CAR = "12-345-67"


def test_a_reload_in_the_middle_of_a_decision_leaves_it_wholly_under_the_config_it_began_with(
    ledger, tmp_path: Path, monkeypatch
):
    config = tmp_path / "plategate.toml"
    reloader = ConfigReloader(ledger, str(config))
    ledger.decide("entry", CAR, at(0))
    owed_before = ledger.amount_due(CAR, at(120))
    real_replayed = ledger_module.replayed

    def reload_meanwhile(conn, key):  # the exit's transaction has begun when the new file is applied
        config.write_text("[tariff]\nhourly_rate = 50.0\n\n[policy]\nmin_confidence = 0.99\n")
        assert reloader.reload().ok
        return real_replayed(conn, key)

    monkeypatch.setattr(ledger_module, "replayed", reload_meanwhile)
    exit_ = ledger.decide("exit", CAR, at(120), confidence=0.9, read_key="exit-1")
    assert exit_.amount_due == to_shekels(owed_before)  # the old tariff, as the old policy judged the read
    assert not exit_.flagged

    monkeypatch.setattr(ledger_module, "replayed", real_replayed)
    assert ledger.amount_due(CAR, at(120)) > owed_before  # the next operation sees the new config, all of it
    assert ledger.policy.min_confidence == 0.99


def test_a_reload_swaps_tariff_policy_and_time_zone_in_one_step(ledger, tmp_path: Path):
    config = tmp_path / "plategate.toml"
    config.write_text('timezone = "Europe/London"\n\n[tariff]\nfree_minutes = 5\n\n[policy]\nmin_confidence = 0.8\n')
    before = ledger.settings
    assert ConfigReloader(ledger, str(config)).reload().ok
    after = ledger.settings
    assert (after.tariff.free_minutes, after.policy.min_confidence, str(after.timezone)) == (
        5, 0.8, "Europe/London")
    assert before.tariff.free_minutes != 5  # the snapshot an operation pinned before the reload is untouched

"""plategate gate controller: a lane's camera process, the ledger behind it, and the `gate` CLI.

Three layers, each importing only the ones above it:

- gate.rules: the lot's rules, pure (codes, tariff, policy, config,
  matching, decision, money, clock, errors);
- gate.store: the ledger on SQLAlchemy Core (models, migrations, schema,
  db, queries, records, decide, ledger: ``Ledger``, the one front of the
  database);
- gate.lane: one lane's camera process (sources, voting, process, stats,
  evidence, relay).

On top: cli (`gate`, a thin shell over Ledger), demo (`python -m gate.demo`)
and text_table (the plain-text tables both print).
"""

"""One lane's camera process: frames in, one ledger decision per car, relay out.

sources (cameras, recordings, reconnects), voting (one pass -> one voted
plate), process (GateProcess and build_process), stats (frame rate and
latency), evidence (crops and retention), relay (the barrier pulse).
"""

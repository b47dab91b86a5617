"""``gate serve``: the ledger over HTTP (FastAPI), for pay stations, remote cameras and operators.

The layer above gate.store: it imports the rules and the store, never the lane.
"""

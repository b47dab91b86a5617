"""The rules of the lot, pure: no database, no camera, no clock of their own.

codes (the stable strings stored and printed: lanes, actions, reasons, ...),
clock (UTC and parsing), money (agorot <-> shekels), tariff (what a stay
costs), policy (capacity, duplicates, matching thresholds), config (both from
a TOML/JSON file), matching (exit read -> open visit), decision (Decision),
errors (GateError and its kinds).
"""

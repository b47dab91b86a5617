"""The web admin page of ``gate serve``: server-rendered Jinja2 pages over the same Ledger as the API.

Kept import-light (the routes live in gate.serve.web.pages): gate.serve.auth
imports the session lookup from here without loading the pages.
"""

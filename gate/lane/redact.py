"""Keep secrets out of the lane's logs, errors and status output.

Camera and relay URLs carry credentials (``rtsp://admin:pass@cam/stream``,
``http://cam/snap.cgi?user=admin&pwd=pass``); one run once wrote a camera
password to the log six times in 12 s. Every message that names a source or
a relay goes through ``redact``, and ``RedactingFormatter`` redacts every
formatted line (tracebacks included) as a second net.
"""
from __future__ import annotations

import logging
import re

MASK = "***"
# The secret runs to the LAST "@" before a blank or a closing quote (one followed by , } ] : ) or a blank): a
# password typed with a raw "@" in it (p@ss) once left "ss" in the log, and one with a raw "/" or a quote (ab/cd,
# pa"ss: the very URLs a camera fails to open, whose failure is logged) was not masked at all. A URL whose path or
# query holds an "@" loses its host too; over-masking is the safe side. A password with a raw blank is masked only
# up to it. The prefix is searched for and the secret's end found once per URL (`_mask_userinfo`): a single regex
# that let the secret run past "/" backtracked from every "scheme://" to the token's end (330 s on a 118 KB line).
_USERINFO = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]{0,15}://[^/\s:]*:")  # a user name may hold an "@" (ops@site.com)
_SECRET_END = re.compile(r"\s|[\"'](?=[\s,}\]:)]|$)")
# a secret's name, alone or after a prefix and a separator: pwd=, access_token=, x-api-key=, client_secret=
_QUERY = re.compile(r"(?P<key>[?&;](?:[\w.-]*[_.-])?(?:password|passwd|passw|pass|pwd|pw|p|secret|token|key|auth"
                    r"|apikey|api_key|signature|sig)=)(?P<secret>[^&;#\s'\"]*)", re.IGNORECASE)
# ... and in camelCase (accessToken=, clientSecret=): a lower-case letter or digit, then the name capitalised
_CAMEL = re.compile(r"(?P<key>[?&;]\w*[a-z0-9](?:Password|Passwd|Pass|Pwd|Secret|Token|Key|Auth|Signature|Sig)=)"
                    r"(?P<secret>[^&;#\s'\"]*)")


def redact(text: object) -> str:
    """``text`` with URL passwords and secret query values replaced by ***; the user name stays (it helps)."""
    s = str(text)
    s = _mask_userinfo(s)
    s = _QUERY.sub(lambda m: f"{m['key']}{MASK}", s)
    return _CAMEL.sub(lambda m: f"{m['key']}{MASK}", s)


def _mask_userinfo(s: str) -> str:
    out, kept, at = [], 0, 0
    while (m := _USERINFO.search(s, at)) is not None:
        end = _SECRET_END.search(s, m.end())
        stop = len(s) if end is None else end.start()
        last_at = s.rfind("@", m.end(), stop)
        if last_at >= 0:
            out += [s[kept:m.end()], MASK]
            kept = last_at
        at = max(stop, m.end())  # a later prefix before `stop` shares this secret's end: nothing more to mask there
    return "".join(out) + s[kept:]


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line (message, arguments and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

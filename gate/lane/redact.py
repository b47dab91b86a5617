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
# The secret runs to the LAST "@" before the path, a blank or a quote: a password typed with a raw "@" in it
# (p@ss) once left "ss" in the log. A URL whose query holds an "@" loses its host too; over-masking is the safe side.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<secret>[^/\s\"']*)@")
# a secret's name, alone or after a prefix and a separator: pwd=, access_token=, x-api-key=, client_secret=
_QUERY = re.compile(r"(?P<key>[?&;](?:[\w.-]*[_.-])?(?:password|passwd|pass|pwd|secret|token|key|auth|apikey|api_key"
                    r"|signature|sig)=)(?P<secret>[^&;#\s'\"]*)", re.IGNORECASE)
# ... and in camelCase (accessToken=, clientSecret=): a lower-case letter or digit, then the name capitalised
_CAMEL = re.compile(r"(?P<key>[?&;]\w*[a-z0-9](?:Password|Passwd|Pass|Pwd|Secret|Token|Key|Auth|Signature|Sig)=)"
                    r"(?P<secret>[^&;#\s'\"]*)")


def redact(text: object) -> str:
    """``text`` with URL passwords and secret query values replaced by ***; the user name stays (it helps)."""
    s = str(text)
    s = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", s)
    s = _QUERY.sub(lambda m: f"{m['key']}{MASK}", s)
    return _CAMEL.sub(lambda m: f"{m['key']}{MASK}", s)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line (message, arguments and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

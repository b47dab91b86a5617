"""The real `gate` command line with a fake reader, for subprocess tests (run as a script, never imported).

    fake_gate_cli.py run --lane entry --source ... [any `gate run` option]

Everything is `gate run` itself (options, logging, exit codes); only lpr.Reader is replaced by
FixedPlateReader (plate 1234567), so no model weights load.
"""
from __future__ import annotations

from lane_fakes import FixedPlateReader

import lpr
from gate.cli import main

if __name__ == "__main__":
    lpr.Reader = lambda **_options: FixedPlateReader("1234567")  # type: ignore[attr-defined]
    main()

#!/usr/bin/env python
"""Offline evaluation: same as `lpr eval DIR`. See lpr/cli.py:eval_cmd and lpr/evaluate.py."""
import typer

from lpr.cli import eval_cmd

if __name__ == "__main__":
    typer.run(eval_cmd)

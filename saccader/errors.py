"""Errors the user can fix: the command line prints them on one line and exits with status 2.

``UserError`` is the base of every such error (``ConfigError`` is one). ``python -m saccader``
catches these (and a checkpoint that cannot be used, ``CheckpointError``) in one place,
:func:`saccader.cli.run_command`; any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations


class UserError(Exception):
    """Bad input the user can fix; the message says what is wrong and how to fix it."""


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (line breaks become spaces)."""
    text = " ".join(str(exc).split()) if str(exc).strip() else type(exc).__name__
    return text


__all__ = ["UserError", "one_line"]

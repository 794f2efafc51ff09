"""Exceptions of the raw loader."""

from __future__ import annotations


class LoadError(Exception):
    """An entity's load failed loudly; the previous raw table is untouched.

    `result` (when set) holds the per-file bookkeeping of the failed attempt, as persisted in
    raw.load_files.
    """

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


class FileRejected(Exception):
    """A single file is rejected whole (bad header, undecodable, malformed CSV). Internal."""

"""Stream a CSV into a UTF-8 working copy that DuckDB reads, chunk by chunk.

The copy has the source's text (GB18030 transcoded, BOM dropped, CR-only line breaks turned into LF,
files mixing CRLF and LF turned into LF; files using LF or CRLF throughout kept as written) minus
an incomplete final line: a file whose last byte is not a line break may have been cut mid-value
(1234.00 → 12.00), so that line is held back and becomes a reject.
Empty physical lines are recorded by number (DuckDB skips them; the loader maps records back onto
physical lines set-based). The copy's checksum must equal the scan's, else the file changed while
being read and is rejected.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FileRejected
from .filescan import FileScan, open_source


@dataclass
class Transcoded:
    path: Path
    lines: int = 0  # complete physical lines written (header included)
    empty_lines: list[int] = field(default_factory=list)  # physical numbers of empty lines
    tail: str | None = None  # the incomplete final line, not written
    tail_line: int | None = None


def transcode(source: Path, dest: Path, scan: FileScan, chunk_bytes: int = 1 << 20) -> Transcoded:
    out = Transcoded(dest)
    decoder = codecs.getincrementaldecoder(scan.encoding)("strict")
    sha, pending = hashlib.sha256(), ""
    with open_source(source) as src, open(dest, "w", encoding="utf-8", newline="") as dst:
        while True:
            chunk = src.read(chunk_bytes)
            sha.update(chunk)
            text = pending + _decode(decoder, chunk, final=not chunk)
            if scan.newline == "cr":
                text = text.replace("\r", "\n")
            cut = text.rfind("\n") + 1
            complete, pending = text[:cut], text[cut:]
            if (
                scan.newline == "crlf_lf"
            ):  # DuckDB needs one style: CRLF -> LF (a trailing CR waits in pending)
                complete = complete.replace("\r\n", "\n")
            _note_empty_lines(out, complete)
            dst.write(complete)
            if not chunk:
                break
    if sha.hexdigest() != scan.sha256:
        raise FileRejected(
            "文件在读取期间被修改 file changed while being read (checksum differs); retry next night"
        )
    _finish(out, pending, dest)
    return out


def _decode(decoder, chunk: bytes, final: bool) -> str:
    try:
        return decoder.decode(chunk, final=final)
    except UnicodeDecodeError as exc:  # only if the file changed since the scan
        raise FileRejected(f"文件在读取期间被修改 file changed while being read ({exc.reason})") from exc


def _empty_line_starts(text: str) -> list[int]:
    """Offsets of empty lines (`\n` or `\r\n` right after a line break or at the start); C-speed finds."""
    starts = [0] if text.startswith(("\n", "\r\n")) else []
    for pattern in ("\n\n", "\n\r\n"):
        at = text.find(pattern)
        while at >= 0:
            starts.append(at + 1)
            at = text.find(pattern, at + 1)
    return sorted(starts)


def _note_empty_lines(out: Transcoded, complete: str) -> None:
    pos, line = 0, out.lines
    for start in _empty_line_starts(complete):
        line += complete.count("\n", pos, start)
        out.empty_lines.append(line + 1)
        pos = start
    out.lines += complete.count("\n")


def _finish(out: Transcoded, pending: str, dest: Path) -> None:
    """A last line without a line break: a header alone is completed; a record is held back."""
    if not pending:
        return
    if out.lines == len(out.empty_lines):  # nothing but the header line: complete it
        with open(dest, "a", encoding="utf-8", newline="") as dst:
            dst.write(pending + "\n")
        out.lines += 1
        return
    out.tail, out.tail_line = pending, out.lines + 1

"""Streaming over a CSV's bytes: checksum, encoding, line endings, completeness.

Nothing here holds the whole file: bytes are read in chunks, decoded with incremental decoders, and
only counts are kept. Encoding rules (contract 1.1):

- a declared encoding (`<file>.encoding` next to the file, else `.encoding` in the folder, one line
  `utf-8` or `gb18030`) wins; bytes that do not decode under it reject the file;
- a UTF-8 BOM means UTF-8; UTF-16/32 BOMs and NUL bytes reject the file;
- otherwise the file must decode as UTF-8 or GB18030. Many GBK byte pairs are also valid UTF-8
  (郑 D6A3 → U+05A3, 史 CAB7 → U+02B7 …), so a file valid as both is taken as UTF-8 only when its
  UTF-8 text looks like Chinese business text: at most `SUSPECT_SHARE` of its non-ASCII characters
  (the first `SAMPLE_CHARS` of them) may fall outside the CJK / full-width / common-punctuation
  ranges a Chinese export uses. GB18030 is decoded (in a second pass) only when UTF-8 fails or
  its text does not look like that: otherwise UTF-8 is chosen whatever GB18030 would say.

ASCII chunks (most of a large export) are not decoded: they are valid in both encodings.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FileRejected

SUSPECT_SHARE = 0.2
SAMPLE_CHARS = 200_000  # the statistics look at the first this many non-ASCII characters
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030"}
# Non-ASCII characters a Chinese business export plausibly contains (anything else is suspect).
_PLAUSIBLE = (
    "\u00a0\u00a5\u00b0\u00b1\u00b7\u00d7\u00f7"  # nbsp ¥ ° ± · × ÷
    "\u2000-\u206f\u2100-\u218f\u2190-\u21ff\u2460-\u24ff\u25a0-\u25ff"  # punctuation, ①, arrows, shapes
    "\u3000-\u303f\u3040-\u30ff\u3200-\u33ff\u3400-\u4dbf\u4e00-\u9fff"  # CJK punctuation, kana, ideographs
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"  # compatibility, full-width, ext. B+
)
_SUSPECT = re.compile(f"[^\\x00-\\x7f{_PLAUSIBLE}]+")
_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


@dataclass
class TextStats:
    ok: bool = True
    non_ascii: int = 0
    suspect: int = 0
    error: str = ""

    @property
    def sampled(self) -> bool:
        return self.non_ascii >= SAMPLE_CHARS

    @property
    def suspect_share(self) -> float:
        return self.suspect / self.non_ascii if self.non_ascii else 0.0


@dataclass
class FileScan:
    size: int
    sha256: str
    encoding: str  # 'utf-8' | 'utf-8-sig' | 'gb18030' (Python codec names)
    newline: str  # 'lf' (LF or CRLF throughout) | 'crlf_lf' (both) | 'cr' (CR only)
    ends_with_newline: bool
    note: str = ""


@dataclass
class _Counts:
    lf: int = 0
    cr: int = 0
    crlf: int = 0
    last: bytes = b""
    stats: dict[str, TextStats] = field(default_factory=dict)


def not_a_file(path: Path) -> str | None:
    """Why `path` (found where a data file is expected) cannot be read as one; None for a regular
    file or a symbolic link to one. Never opens it: a FIFO would block the night until a writer came."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return f"符号链接指向的文件不存在 broken symbolic link (target {os.readlink(path)!r} missing)"
        return f"文件在加载过程中消失 file disappeared during the load (deleted or moved): {path.name}"
    except OSError as exc:  # a symlink loop, a folder without search permission, an I/O error
        return f"无法读取文件 unreadable file: {exc.strerror or exc}"
    for test, what in _NOT_FILES:
        if test(mode):
            return f"不是普通文件 not a regular file: {what}"
    return None


_NOT_FILES = (
    (stat.S_ISDIR, "a directory (目录)"),
    (stat.S_ISFIFO, "a named pipe (FIFO), never read"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class SourceReader:
    """A landing-zone file open for reading; an OS error while reading it (EIO of a failing disk or
    network mount, EACCES, ...) is a file reject with the reason, never a crash of the night."""

    def __init__(self, fh):
        self._fh = fh

    def read(self, size: int = -1) -> bytes:
        try:
            return self._fh.read(size)
        except OSError as exc:
            raise FileRejected(f"读取文件出错 read error: {exc.strerror or exc}") from exc

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(path: Path) -> SourceReader:
    """Open for reading; a vanished, unreadable or non-regular file is a file reject with a clear reason.

    Opened non-blocking and checked with fstat, so a FIFO or device swapped in after the listing is
    rejected instead of blocking the night."""
    problem = not_a_file(path)
    if problem:
        raise FileRejected(problem)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise FileRejected(
            f"文件在加载过程中消失 file disappeared during the load (deleted or moved): {path.name}"
        ) from exc
    except OSError as exc:
        raise FileRejected(f"无法读取文件 unreadable file: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileRejected(not_a_file(path) or "不是普通文件 not a regular file")
    os.set_blocking(fd, True)
    return SourceReader(os.fdopen(fd, "rb"))


def declared_encoding(path: Path) -> tuple[str, str] | None:
    """(codec, marker file name) from `<file>.encoding` or the folder's `.encoding`, if any."""
    for marker in (path.with_name(path.name + ".encoding"), path.parent / ".encoding"):
        if marker.is_file():
            name = marker.read_text(encoding="ascii", errors="replace").strip().lower()
            if name not in ENCODINGS:
                raise FileRejected(
                    f"声明的编码无效 {marker.name} declares unknown encoding {name!r} (utf-8 or gb18030)"
                )
            return ENCODINGS[name], marker.name
    return None


def scan_file(path: Path, chunk_bytes: int = 1 << 20) -> FileScan:
    declared = declared_encoding(path)
    with open_source(path) as fh:
        first = fh.read(chunk_bytes)
        _reject_binary(first)
        bom = first.startswith(codecs.BOM_UTF8)
        codecs_to_try = [declared[0]] if declared else ["utf-8", "gb18030"]
        if bom and "utf-8" in codecs_to_try:
            codecs_to_try = ["utf-8"]
        counts, digest, size = _scan_chunks(fh, first, codecs_to_try[0], chunk_bytes)
    if len(codecs_to_try) > 1 and not _clearly_utf8(counts.stats["utf-8"]):
        # GB18030 only matters when UTF-8 fails or looks implausible: a second pass, decoding only
        with open_source(path) as fh:
            counts.stats["gb18030"] = _decode_stats(fh, "gb18030", chunk_bytes)
    if size == 0:
        raise FileRejected("空文件 empty file (0 bytes)")
    encoding = _choose(counts.stats, declared)
    if encoding == "utf-8" and bom:
        encoding = "utf-8-sig"
    if counts.cr > counts.crlf and counts.lf > counts.crlf:
        raise FileRejected(
            f"混合换行符 mixed line endings: {counts.cr - counts.crlf} CR-only and "
            f"{counts.lf} LF/CRLF line breaks in one file"
        )
    lf_only = counts.lf - counts.crlf
    newline = "cr" if counts.cr > counts.crlf else "crlf_lf" if counts.crlf and lf_only else "lf"
    note = f"声明编码 declared encoding ({declared[1]})" if declared else ""
    return FileScan(size, digest, encoding, newline, counts.last in (b"\n", b"\r"), note)


def _reject_binary(first: bytes) -> None:
    for bom, name in _BOMS.items():
        if first.startswith(bom):
            raise FileRejected(
                f"不支持的编码 unsupported encoding {name} (save the export as UTF-8 or GB18030)"
            )
    if b"\x00" in first:
        raise FileRejected(
            "含 NUL 字节 file contains NUL bytes: binary, UTF-16 or damaged (not a CSV export)"
        )


def _clearly_utf8(utf8: TextStats) -> bool:
    """Valid UTF-8 that looks like Chinese text: `_choose` takes it whatever GB18030 would say."""
    return utf8.ok and utf8.suspect_share <= SUSPECT_SHARE


def _scan_chunks(fh, first: bytes, name: str, chunk_bytes: int) -> tuple[_Counts, str, int]:
    """Checksum, line breaks and the strict decoding (with statistics) under codec `name`, one pass."""
    counts = _Counts(stats={name: TextStats()})
    decoder = _decoder(name)
    sha, size, chunk, prev_cr = hashlib.sha256(), 0, first, False
    while chunk:
        sha.update(chunk)
        size += len(chunk)
        if b"\x00" in chunk:
            _reject_binary(b"\x00")
        counts.lf += chunk.count(b"\n")
        cr = chunk.count(b"\r")
        if cr or prev_cr:  # no CR at all (the usual export): no CRLF either
            counts.cr += cr
            counts.crlf += chunk.count(b"\r\n") + (1 if prev_cr and chunk.startswith(b"\n") else 0)
        prev_cr, counts.last = chunk.endswith(b"\r"), chunk[-1:]
        _feed(counts.stats[name], decoder, chunk, size - len(chunk))
        chunk = fh.read(chunk_bytes)
    _feed(counts.stats[name], decoder, b"", size, final=True)
    return counts, sha.hexdigest(), size


def _decode_stats(fh, name: str, chunk_bytes: int) -> TextStats:
    stats, decoder, offset = TextStats(), _decoder(name), 0
    while chunk := fh.read(chunk_bytes):
        _feed(stats, decoder, chunk, offset)
        offset += len(chunk)
    _feed(stats, decoder, b"", offset, final=True)
    return stats


def _decoder(name: str):
    return codecs.getincrementaldecoder("utf-8-sig" if name == "utf-8" else name)("strict")


_CLEAN_STATE = (b"", 0)  # an incremental decoder between characters (and past a leading BOM)
_ASCII = bytes(range(128))


def _feed(stats: TextStats, decoder, chunk: bytes, offset: int, final: bool = False) -> None:
    if not stats.ok:
        return
    if chunk.isascii() and decoder.getstate() == _CLEAN_STATE:
        return  # ASCII is valid in both codecs and holds no non-ASCII character to count
    try:
        text = decoder.decode(chunk, final=final)
    except UnicodeDecodeError as exc:
        stats.ok, stats.error = False, f"byte {offset + exc.start + 1}: {exc.reason}"
        return
    if not stats.sampled:  # statistics on a sample, over the non-ASCII characters only
        non_ascii = text.encode("utf-8").translate(None, _ASCII).decode("utf-8")
        stats.non_ascii += len(non_ascii)
        stats.suspect += sum(map(len, _SUSPECT.findall(non_ascii)))


def _choose(stats: dict[str, TextStats], declared: tuple[str, str] | None) -> str:
    if declared:
        name = declared[0]
        if not stats[name].ok:
            raise FileRejected(
                f"不符合声明的编码 not valid {name} as declared in {declared[1]} ({stats[name].error})"
            )
        return name
    utf8, gb = stats["utf-8"], stats.get("gb18030")
    if utf8.ok and (utf8.suspect_share <= SUSPECT_SHARE or not (gb and gb.ok)):
        return "utf-8"
    if gb and gb.ok and (not utf8.ok or gb.suspect_share < utf8.suspect_share):
        return "gb18030"
    if utf8.ok:
        return "utf-8"
    raise FileRejected(
        "无法识别的编码 unknown encoding: not UTF-8, UTF-8 with BOM or GB18030/GBK "
        f"(UTF-8 fails at {utf8.error}; GB18030 fails at {gb.error if gb else '-'})"
    )


def file_digest(path: Path, chunk_bytes: int = 1 << 20) -> tuple[int, str]:
    """(size, sha256) of any file, streamed (used for xlsx, which is read by its own parser)."""
    sha, size = hashlib.sha256(), 0
    with open_source(path) as fh:
        while chunk := fh.read(chunk_bytes):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()

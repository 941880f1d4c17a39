"""Opening the files people have: gzip, byte-order marks, encodings, directories, globs.

Every reader opens its files here. A `.gz` file (known by its first bytes, not
its name) is read as the text inside; a UTF-8 or UTF-16 byte-order mark says
the encoding (it wins over `--encoding`: a mark cannot lie); else the text is
UTF-8 unless `--encoding` says otherwise. Bytes the encoding cannot read come
through as surrogate escapes, so the records that hold them can be rejected one
by one while the rest land.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from touchpoint.errors import TouchpointError

GZIP_MAGIC = b"\x1f\x8b"
# `--delimiter` values and the character each means.
DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class FileProblem(TouchpointError):
    """A whole file that cannot be read as records of its format."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """How to read a text file, as `--delimiter` and `--encoding` said (None: detect)."""

    delimiter: str | None = None
    encoding: str | None = None


AUTO = Dialect()


def dialect(delimiter: str | None = None, encoding: str | None = None) -> Dialect:
    """The `Dialect` of `--delimiter` and `--encoding`, or an error naming what they take.

    >>> dialect("tab", "Latin-1")
    Dialect(delimiter='\\t', encoding='iso8859-1')
    """
    if delimiter is not None and delimiter not in DELIMITERS:
        raise TouchpointError(
            f"--delimiter {delimiter!r} is not one of , ; tab | (quote ; and | in a shell)"
        )
    codec = None
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
            "".encode(codec)  # LookupError for codecs that are not text encodings (base64)
        except LookupError:
            raise TouchpointError(
                f"--encoding {encoding!r} is not a text encoding; use one like "
                "utf-8, cp1252, latin-1 or utf-16"
            ) from None
    return Dialect(DELIMITERS[delimiter] if delimiter is not None else None, codec)


class FileBytes(io.RawIOBase):
    """A file's bytes, decompressed when it is gzip; `consumed` is how far into the file."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.raw: io.BufferedReader = path.open("rb")
        except FileNotFoundError:
            raise FileProblem(f"{path}: no such file") from None
        except IsADirectoryError:
            raise FileProblem(f"{path} is a directory, not a file") from None
        except OSError as exc:
            raise FileProblem(f"{path}: cannot read it ({exc.strerror})") from None
        self.gzip = self.raw.read(2) == GZIP_MAGIC
        self.raw.seek(0)
        self.inner: io.BufferedIOBase = gzip.GzipFile(fileobj=self.raw) if self.gzip else self.raw

    @property
    def consumed(self) -> int:
        """Bytes of the file itself read so far (compressed bytes for a .gz)."""
        return self.raw.tell()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            return self.inner.readinto(buffer)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise FileProblem(
                f"{self.path} is a damaged gzip file ({exc or 'cut short'})"
            ) from None

    def read(self, size: int = -1) -> bytes:
        try:
            return self.inner.read(size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise FileProblem(
                f"{self.path} is a damaged gzip file ({exc or 'cut short'})"
            ) from None

    def close(self) -> None:
        if self.gzip:
            self.inner.close()
        self.raw.close()
        super().close()


def encoding_of(start: bytes, given: str | None) -> tuple[str, int]:
    """The codec of a text that starts with these bytes, and the length of its byte-order mark."""
    for bom, codec in _BOMS:
        if start.startswith(bom):
            return codec, len(bom)
    return given or "utf-8", 0


def open_text(path: Path, dialect: Dialect = AUTO) -> io.TextIOWrapper:
    """A text file (maybe gzip) opened for streaming, its byte-order mark skipped.

    `text.encoding` is the codec used (Python's name for it: `utf-8`, `cp1252`).
    """
    source = FileBytes(path)
    buffered = io.BufferedReader(source, 1 << 20)
    codec, skip = encoding_of(buffered.peek(4)[:4], dialect.encoding)
    buffered.read(skip)
    return io.TextIOWrapper(buffered, encoding=codec, errors="surrogateescape", newline="")


def utf8_blocks(path: Path, dialect: Dialect, size: int) -> Iterator[tuple[bytes, int]]:
    """(UTF-8 bytes, file bytes consumed so far) in blocks of about `size`, a mark skipped.

    UTF-8 passes through untouched (fast); other encodings are decoded and written
    as UTF-8, any byte they cannot read kept as it was (so its line is rejected).
    """
    with FileBytes(path) as source:
        first = source.read(size)
        codec, skip = encoding_of(first[:4], dialect.encoding)
        first = first[skip:]
        if codecs.lookup(codec).name == "utf-8":
            block = first
            while block:
                yield block, source.consumed
                block = source.read(size)
            return
        decoder = codecs.getincrementaldecoder(codec)("surrogateescape")
        block = first
        try:
            while block:
                yield decoder.decode(block).encode("utf-8", "surrogateescape"), source.consumed
                block = source.read(size)
            yield (
                decoder.decode(b"", final=True).encode("utf-8", "surrogateescape"),
                source.consumed,
            )
        except UnicodeDecodeError as exc:  # codecs whose errors escape no bytes (UTF-16)
            raise FileProblem(f"{path} is not {codec_name(codec)} text ({exc.reason})") from None


def not_utf8(path: Path, line: int | str, text: str) -> FileProblem:
    """The problem of a file whose first text that is not ASCII is not UTF-8 either:
    it is in another encoding, most often Windows-1252 (Excel's "CSV" on Windows)."""
    shown = as_received(text)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return FileProblem(
        f"{path} is not UTF-8 (line {line}: {shown}); it looks like Windows-1252 text, "
        "as Excel saves CSV on Windows: import it again with --encoding cp1252 "
        "(or latin-1); nothing was imported from it"
    )


def first_text_is_bad(text: str) -> bool:
    """Whether the first character of a text beyond ASCII is a byte the codec could not read."""
    other = next((char for char in text if not char.isascii()), "")
    return "\udc80" <= other <= "\udcff"


def non_utf8_reason(text: str) -> str | None:
    """The reason to reject text that held bytes which are not UTF-8, or None."""
    return non_text_reason(text, "utf-8")


def non_text_reason(text: str, codec: str) -> str | None:
    """The reason to reject text that held bytes the codec could not read, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(text[exc.start]) - 0xDC00
        return f"not valid {codec_name(codec)}: byte 0x{byte:02x} at character {exc.start + 1}"
    return None


def codec_name(codec: str) -> str:
    """How messages name a codec (Python's names but for UTF-8 and UTF-16)."""
    return {"utf-8": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}.get(codec, codec)


def as_received(text: str) -> str:
    """Text with any non-UTF-8 bytes shown as \\xNN, safe to store."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def files_to_import(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The files a list of paths names (a directory: every file in it; a glob: its
    matches; each sorted), and a problem for each directory or glob that names none.

    Hidden files and Excel's lock files (`~$...`) in a directory are left out.
    """
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                child
                for child in path.iterdir()
                if child.is_file() and not child.name.startswith((".", "~$"))
            )
            if not found:
                problems.append(f"{path}: the directory has no files to import")
            files.extend(found)
        elif not path.exists() and any(mark in str(path) for mark in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
            if not matches:
                problems.append(f"{path}: no files match")
            files.extend(matches)
        else:
            files.append(path)
    return files, problems

"""Receive a multipart/form-data upload as a stream: the file part goes straight to disk and the
size limit is enforced while it arrives (nothing is buffered whole in memory)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header

FILE_FIELD = "file"
MAX_FIELD_BYTES = 1024  # view / model values are short
MAX_PARTS = 8  # file, view, model and a few a client may add: more is not a form of this page's
MAX_HEADER_BYTES = 8 * 1024  # one part's headers


class UploadError(Exception):
    """A bad upload; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Receiver:
    """Callbacks for MultipartParser: collects small text fields, writes the file part to `dest`."""

    def __init__(self, dest: Path, max_bytes: int) -> None:
        self.dest, self.max_bytes = dest, max_bytes
        self.fields: dict[str, str] = {}
        self.file_bytes = 0
        self.file_seen = False
        self.parts = 0
        self._header_bytes = 0
        self._fh = None
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._field: str | None = None
        self._value = bytearray()

    def callbacks(self) -> dict:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_val, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end}

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadError(400, f"too many form fields (at most {MAX_PARTS})")
        self._headers, self._field, self._value = {}, None, bytearray()
        self._header_bytes = 0

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def _header_val(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _count_header(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            raise UploadError(400, f"a form part's headers are longer than {MAX_HEADER_BYTES // 1024} kB")

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == FILE_FIELD:
            if self.file_seen:
                raise UploadError(400, "send one file per upload")
            self.file_seen = True
            self.fields["filename"] = options.get(b"filename", b"").decode("utf-8", "replace")
            self._fh = open(self.dest, "wb")  # noqa: SIM115 - closed in _part_end / close()
        self._field = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._fh is not None:
            self.file_bytes += end - start
            if self.file_bytes > self.max_bytes:
                raise UploadError(413, f"the file is larger than the limit of {self.max_bytes / 2**20:g} MB")
            self._fh.write(data[start:end])
        else:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise UploadError(400, f"form field '{self._field}' is too long")

    def _part_end(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        elif self._field:
            self.fields[self._field] = self._value.decode("utf-8", "replace").strip()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def boundary_of(content_type: str) -> bytes:
    """The multipart boundary of a Content-Type header, or UploadError(415)."""
    ctype, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UploadError(415, "send the file as multipart/form-data with a 'file' field")
    return boundary


async def receive(stream: AsyncIterator[bytes], content_type: str, dest: Path,
                  max_bytes: int) -> tuple[dict[str, str], int]:
    """Parse the request body; the file goes to `dest`. Returns (text fields incl. 'filename', file
    size in bytes). Raises UploadError (413 over `max_bytes`, 400 without a file); on error the
    partial file is left for the caller to delete."""
    receiver = _Receiver(dest, max_bytes)
    parser = MultipartParser(boundary_of(content_type), receiver.callbacks())
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
    except ParseError as exc:
        raise UploadError(400, f"malformed multipart body: {exc}") from exc
    finally:
        receiver.close()
    if not receiver.file_seen:
        raise UploadError(400, f"no file: send it in a form field named '{FILE_FIELD}'")
    if receiver.file_bytes == 0:
        raise UploadError(400, "the file is empty")
    return receiver.fields, receiver.file_bytes

"""Standard output that takes each write whole or raises, so a reader that stops early is an error.

With ``PYTHONUNBUFFERED=1`` (set in many container images and CI runners) or ``python -u``, ``sys.stdout``
writes straight into the raw file (``io.FileIO``), and a raw write may take only part of what it is given: a
pipe whose reader leaves while a command is blocked writing into it (``sitewatch export --out - | head -c
100``: 105 kB of GeoJSON, 64 kB of them in the pipe) returns the part it took, and ``TextIOWrapper`` ignores
the count. The rest was dropped without a word, the command said "wrote 71 detection(s) to standard output"
and exited 0, where README (Scripting) promises exit code 1 when output was left unwritten, and a script under
``set -o pipefail`` took a cut document for a whole one. (Buffered, the default, ``BufferedWriter`` writes
the rest and raises ``BrokenPipeError``: exit code 1.)

A full disk under ``sitewatch export --out - > file`` (or ``> /dev/full``) ended in a traceback, buffered or
not (and unbuffered, part way in a pipe, in a cut file and exit code 0): it is now the one line README
("Scripting") gives a full disk, ``Error: standard output: cannot write it (No space left on device)``.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..errors import OutputError

__all__ = ["WholeWrites", "whole_writes_to_standard_output"]


class WholeWrites(io.BufferedIOBase):
    """A binary stream over ``inner`` whose ``write`` writes all it is given, or raises (``BrokenPipeError``
    once the reader has gone, :class:`OutputError` for a full disk), rather than return a short count. Closing it
    leaves ``inner`` open: that is the process's own standard output, which the interpreter closes at exit."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self._inner = inner

    @property
    def name(self) -> Any:
        """The inner stream's name, which the text layer over this one reports."""
        return getattr(self._inner, "name", "<stdout>")  # the wrapping TextIOWrapper's name: '<stdout>'

    def writable(self) -> bool:
        """Always: this stream is only ever written to."""
        return True

    def write(self, data: Any) -> int:
        """Write all of ``data`` into the inner stream, as many raw writes as that takes, and return its length;
        raise (see :meth:`_failing`) rather than return a short count."""
        view = memoryview(data).cast("B")
        total = len(view)
        with self._failing():
            while view:
                n = self._inner.write(view)
                if not n:  # None: a non-blocking stream took nothing; never so for a command's standard output
                    raise BlockingIOError(errno.EAGAIN, "standard output took none of what was written to it")
                view = view[n:]
        return total

    def flush(self) -> None:
        """Flush the inner stream, a failure raised as :meth:`write`'s are."""
        with self._failing():
            self._inner.flush()

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """A write that failed for good: what is still buffered goes to the null device, or the interpreter's own
        flush at exit fails again ("Exception ignored … No space left on device", exit code 120); a reader gone
        stays ``BrokenPipeError`` (click ends the command with exit code 1, saying nothing), another reason (a full
        disk) is an :class:`OutputError` naming standard output."""
        try:
            yield
        except BlockingIOError:
            raise
        except OSError as exc:
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, self.fileno())
                os.close(null)
            except OSError:
                pass  # no null device: the interpreter's last flush may still complain
            if isinstance(exc, (BrokenPipeError, OutputError)) or exc.errno == errno.EPIPE:
                raise
            raise OutputError(f"standard output: cannot write it ({exc.strerror or exc})") from exc

    def fileno(self) -> int:
        """The inner stream's file descriptor (standard output's)."""
        return int(self._inner.fileno())

    def isatty(self) -> bool:
        """Whether standard output is a terminal, so that rich and click colour and lay out as before."""
        return bool(self._inner.isatty())


def whole_writes_to_standard_output(ctx: click.Context) -> None:
    """Make ``sys.stdout`` write each write whole, a full disk named (:class:`WholeWrites`), for the rest of the
    command, when it is the process's own file (buffered or not), not a test's in-memory stream; the command's end
    flushes it (an error there is the command's: a reader gone is exit code 1) and puts the stream back."""
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if not isinstance(out, io.TextIOWrapper) or not (
        isinstance(buffer, io.FileIO) or (isinstance(buffer, io.BufferedWriter) and isinstance(buffer.raw, io.FileIO))
    ):
        return  # a test's in-memory stream
    out.flush()
    whole = io.TextIOWrapper(
        WholeWrites(out.buffer), encoding=out.encoding, errors=out.errors,
        # as the interpreter makes standard output: "\n" as written, translated to "\r\n" on Windows alone
        newline=None if os.name == "nt" else "\n", line_buffering=out.line_buffering, write_through=out.write_through,
    )  # fmt: skip
    sys.stdout = whole

    def put_back() -> None:
        try:
            whole.flush()
        except OutputError as exc:  # past the command's own error handling: said as it would have said it
            raise click.ClickException(str(exc)) from exc
        finally:
            if sys.stdout is whole:
                sys.stdout = out

    ctx.call_on_close(put_back)

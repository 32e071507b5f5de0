"""Worker processes that die as the out-of-memory killer ends them, for tests of :mod:`sitewatch.run`."""

from __future__ import annotations

import os
import signal
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["die_while_sending"]


def die_while_sending(min_bytes: int = 0) -> None:
    """Make this process kill itself (SIGKILL) half-way through its next send of more than
    ``min_bytes`` over a multiprocessing pipe: half of the message written, then gone.

    Called in a worker just before it returns its job's result, that send is the result (with
    ``min_bytes`` above the few bytes of its length header, the result's bytes and not the header):
    the case a pool does not notice by itself, as its reader waits for the rest for ever.
    """
    send = Connection._send  # type: ignore[attr-defined]

    def send_half(self: Connection, buf: Any, write: Any = os.write) -> None:
        if len(buf) > min_bytes:
            send(self, buf[: len(buf) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        send(self, buf)

    Connection._send = send_half  # type: ignore[attr-defined]

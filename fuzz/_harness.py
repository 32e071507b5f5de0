"""What the fuzz harnesses share: run a reader on libFuzzer's bytes, sitewatch's own errors being the
clean outcome (the CLI prints them as a message) and anything else a finding.

Each harness seeds a temporary corpus folder with a few valid inputs it writes itself, unless a corpus
folder is given on the command line; libFuzzer's options (``-max_total_time=300``,
``-rss_limit_mb=2048``) pass through. With ``SITEWATCH_FUZZ_KEEP_GOING=1`` a crash is printed once per
place it was raised from (its input saved beside the log as ``crash-TYPE-LINE``) and fuzzing goes on.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import atheris

_TMP = Path(tempfile.mkdtemp(prefix="sitewatch-fuzz-"))


def as_file(data: bytes, name: str) -> Path:
    """``data`` written to a file ``name`` in this process's temporary folder (the reader's suffix matters)."""
    path = _TMP / name
    path.write_bytes(data)
    return path


def run(read: Callable[[bytes], object], seeds: Iterable[bytes]) -> None:
    """Fuzz ``read``; a :class:`~sitewatch.errors.SitewatchError` it raises is fine, anything else a crash."""
    from sitewatch.errors import SitewatchError

    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):  # no corpus given: the seeds, in a folder of their own
        corpus = Path(tempfile.mkdtemp(prefix="sitewatch-corpus-"))
        for i, seed in enumerate(seeds):
            (corpus / f"seed{i}").write_bytes(seed)
        args.append(str(corpus))

    keep_going = os.environ.get("SITEWATCH_FUZZ_KEEP_GOING") == "1"
    seen: set[str] = set()

    def one(data: bytes) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                read(data)
            except SitewatchError:
                pass
            except Exception as exc:
                if not keep_going:
                    raise
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                where = f"{type(exc).__name__}-{Path(frame.filename).name}-{frame.lineno}"
                if where not in seen:
                    seen.add(where)
                    Path(f"crash-{where}").write_bytes(data)
                    print(f"FINDING {where}: {exc!r}"[:300], flush=True)

    atheris.Setup(args, one)
    atheris.Fuzz()

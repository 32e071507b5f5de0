"""The dashboard under sustained use: a real `sitewatch serve` driven over HTTP for many minutes.

The server is started as its own process (``sitewatch serve -w WS --port PORT``), as a user runs it. Every
address the dashboard links to is found by crawling it from ``/`` (pages, quick-looks, close-ups, timeline
charts, change pairs' images, ``image.tif`` downloads, the JSON API) and the list is replayed by ``--clients``
threads, each with its own keep-alive connection, GET and HEAD mixed, for ``--minutes``. Every
``--sample`` seconds the server process's resident memory (VmRSS), open file descriptors (``/proc/PID/fd``:
all, the GeoPackage's, image files', sockets), threads, and the GeoPackage's ``-journal``/``-wal``/``-shm``
files beside it are recorded.

Printed per minute: requests, 5xx, RSS, descriptors, threads, and the median and 95th percentile latency of
each kind of address, as ratios against the first minute (the baseline, measured in the same run). Growth
that keeps going after the first minute (a cache without bound, a dataset or connection not closed) shows
as a ratio that climbs minute after minute instead of levelling off.

``--writer`` runs a command against the workspace again and again while the load runs (e.g.
``"detect --force"``, ``"alerts check"``): each run's time is printed, against the same command run
``--writer-baseline`` times with no load first; the writer stops a minute before the end. Pages are checked
while it writes (no 5xx) and after: every address but the downloads is asked, once the load has stopped, of
the server under test and of a server of the same workspace started then, and must get the same answer
(nothing stale kept).

``--misbehave`` adds clients that break the rules: downloads cut after a few kB, readers that take
one byte every 20 ms, Range and HEAD requests in bulk, odd addresses (percent-encoded ids, trailing slashes,
paths of 8 kB); every answer must be a 2xx/3xx/4xx, and the descriptors and threads must come back to
where they were.

    python benchmarks/serve_soak.py --workspace /tmp/soak-demo --minutes 15 [--clients 8] [--port 8765]
        [--writer "detect --force"] [--misbehave]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

# -- crawling -------------------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append(value)


def kind_of(path: str) -> str:
    """The kind of address ``path`` is, for latency figures by kind."""
    p = urlsplit(path).path
    if p.startswith("/api/"):
        return "api"
    if p == "/openapi.json":
        return "openapi"
    if p.endswith("/quicklook.png"):
        return "quicklook.png"
    if "/detections/" in p and p.endswith(".png"):
        return "close-up.png"
    if p.endswith("/timeline.png"):
        return "timeline.png"
    if p.endswith(("/before.png", "/after.png")):
        return "pair.png"
    if p.endswith("/image.tif"):
        return "image.tif"
    if p.startswith("/changes/"):
        return "pair page"
    if p.startswith("/observations/"):
        return "observation page"
    if p.startswith("/sites/"):
        return "site page"
    return "other page"


def crawl(host: str, port: int, limit: int = 5000) -> list[str]:
    """Every same-server address reachable from ``/`` (pages parsed for href and src), plus the JSON API of
    each site and observation: the replay list, sorted."""
    conn = http.client.HTTPConnection(host, port, timeout=120)
    seen: set[str] = set()
    todo = ["/", "/api/sites", "/api/links", "/openapi.json", "/links"]
    while todo and len(seen) < limit:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        if r.status >= 400:
            print(f"crawl: {r.status} {path}", file=sys.stderr)
            continue
        ctype = r.getheader("content-type", "")
        more: list[str] = []
        if ctype.startswith("text/html"):
            parser = _Links()
            parser.feed(body.decode("utf-8"))
            more = parser.found
        p = urlsplit(path).path
        if p.startswith("/sites/") and ctype.startswith("text/html"):
            sid = p[len("/sites/"):]
            more += [f"/api/sites/{sid}", f"/api/sites/{sid}/timeline", f"/api/sites/{sid}/detections",
                     f"/api/sites/{sid}/changes", f"/api/sites/{sid}/alerts"]  # fmt: skip
        if p.startswith("/observations/") and ctype.startswith("text/html"):
            more.append("/api" + p)
        if p.startswith("/changes/") and ctype.startswith("text/html") and not p.endswith(".png"):
            more.append("/api" + p)
        for link in more:
            u = urlsplit(urljoin(f"http://{host}:{port}{path}", link))
            if u.netloc != f"{host}:{port}" or u.scheme != "http":
                continue
            target = u.path + (f"?{u.query}" if u.query else "")
            if target not in seen:
                todo.append(target)
    conn.close()
    return sorted(seen)


# -- sampling the server --------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    rss_kb: int
    threads: int
    fds: int
    fd_gpkg: int
    fd_tif: int
    fd_sockets: int
    fd_other: int
    sidecars: tuple[str, ...]


def sample(pid: int, db: Path) -> Sample:
    """The server process's memory, threads and descriptors now, and the GeoPackage's side files."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss = int(fields["VmRSS"].split()[0])
    threads = int(fields["Threads"])
    gpkg = tif = sockets = other = 0
    fd_dir = Path(f"/proc/{pid}/fd")
    names = os.listdir(fd_dir)
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except OSError:  # closed between the listing and the link
            continue
        if target.startswith(str(db)):
            gpkg += 1
        elif target.endswith((".tif", ".tiff")):
            tif += 1
        elif target.startswith("socket:"):
            sockets += 1
        else:
            other += 1
    sidecars = tuple(sorted(p.name for p in db.parent.glob(db.name + "-*")))
    return Sample(time.monotonic(), rss, threads, len(names), gpkg, tif, sockets, other, sidecars)


# -- load -----------------------------------------------------------------------------------------------


@dataclass
class Stats:
    """Latencies by (minute, kind), statuses by minute; shared by the client threads under ``lock``."""

    t0: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: dict[tuple[int, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def add(self, kind: str, status: int, seconds: float, size: int, path: str, body: bytes = b"") -> None:
        minute = int((time.monotonic() - self.t0) // 60)
        with self.lock:
            self.latency[(minute, kind)].append(seconds)
            self.statuses[(minute, status)] += 1
            self.bytes_read += size
            if status >= 500 and len(self.errors) < 50:
                self.errors.append(f"{status} {path} {body[:240]!r}")


def client(host: str, port: int, urls: list[str], stats: Stats, stop: threading.Event, seed: int, head_share: float) -> None:
    """Requests the addresses in a random order until ``stop``, on one keep-alive connection (a new one after
    an error), GET or (``head_share`` of them) HEAD; a 304 asked for now and then with the ETag last seen."""
    rng = random.Random(seed)
    etags: dict[str, str] = {}
    conn = http.client.HTTPConnection(host, port, timeout=300)
    while not stop.is_set():
        path = rng.choice(urls)
        method = "HEAD" if rng.random() < head_share else "GET"
        headers = {}
        if path in etags and rng.random() < 0.3:
            headers["If-None-Match"] = etags[path]
        start = time.perf_counter()
        try:
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            size, first = 0, b""
            while chunk := r.read(1 << 16):
                size += len(chunk)
                first = first or chunk
            if tag := r.getheader("etag"):
                etags[path] = tag
            stats.add(kind_of(path) + (" HEAD" if method == "HEAD" else ""), r.status, time.perf_counter() - start, size, path, first)
        except (OSError, http.client.HTTPException) as exc:
            stats.add(kind_of(path), 599, time.perf_counter() - start, 0, f"{path} ({type(exc).__name__}: {exc})")
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=300)
    conn.close()


# -- misbehaving clients --------------------------------------------------------------------------------


def _raw(host: str, port: int, request: bytes, read: int | None = None, delay: float = 0.0) -> bytes:
    """Send ``request`` on a new socket and read ``read`` bytes (all, None) at ``delay`` s a recv, then drop it."""
    s = socket.create_connection((host, port), timeout=60)
    try:
        s.sendall(request)
        got = b""
        while read is None or len(got) < read:
            chunk = s.recv(1 if delay else 65536)
            if not chunk:
                break
            got += chunk
            if delay:
                time.sleep(delay)
        return got
    finally:
        s.close()


def _status(reply: bytes) -> int:
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def odd_addresses(urls: list[str]) -> list[str]:
    """Addresses a hand, a proxy or a scanner may write: each must be served or get a clear 4xx."""
    obs = next((u for u in urls if kind_of(u) == "observation page"), "/observations/x/y")
    site = next((u for u in urls if kind_of(u) == "site page"), "/sites/x")
    oid = obs.removeprefix("/observations/")
    return [
        "/observations/" + quote(oid, safe=""),  # the "/" of SITE/ITEM percent-encoded
        "/observations/" + oid.replace("/", "%2F") + "/quicklook.png",
        "/observations/" + oid + "/",
        "/observations/" + oid + "//image.tif",
        site + "/", site + "//", site + "%2F", site + "/..", site + "/%2e%2e/%2e%2e/etc/passwd",
        "/api/sites/" + "a" * 8000, "/sites/" + "%41" * 3000, "/observations/" + "x/" * 2000 + "image.tif",
        "/api/observations/%00", "/sites/%ff%fe", "/sites/%", "/observations/" + oid + "/detections/1.png%00",
        "/observations/" + oid + "/detections/" + "9" * 5000 + ".png", "/api/sites?" + "q=1&" * 1000,
        "/changes/..", "/changes/a..b/before.png", "/%2e%2e/%2e%2e/", "/api/links/", "/links/",
    ]  # fmt: skip


def misbehave(host: str, port: int, urls: list[str], stop: threading.Event, report: dict[str, int], seed: int) -> None:
    """Cut downloads, slow readers, Range and HEAD in bulk, odd addresses, until ``stop``; ``report`` counts
    each kind of answer (and 5xx, which must stay at 0)."""
    rng = random.Random(seed)
    tifs = [u for u in urls if u.endswith("/image.tif")] or ["/"]
    pngs = [u for u in urls if u.endswith(".png")] or ["/"]
    odd = odd_addresses(urls)
    while not stop.is_set():
        choice = rng.randrange(5)
        try:
            if choice == 0:  # a download cut after a few kB
                reply = _raw(host, port, f"GET {rng.choice(tifs)} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), read=rng.randrange(1, 64) * 1024)
                key = "cut download"
            elif choice == 1:  # a slow reader: 200 bytes at 20 ms each, then gone
                reply = _raw(host, port, f"GET {rng.choice(tifs + pngs)} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), read=200, delay=0.02)
                key = "slow reader"
            elif choice == 2:  # a Range request
                a = rng.randrange(0, 100_000)
                rng_hdr = rng.choice([f"bytes={a}-{a + 999}", f"bytes=-{a + 1}", f"bytes={a}-", "bytes=0-0,5-9", "bytes=999999999999-", "bytes=x-y"])
                reply = _raw(host, port, f"GET {rng.choice(tifs)} HTTP/1.1\r\nHost: x\r\nRange: {rng_hdr}\r\nConnection: close\r\n\r\n".encode())
                key = f"range {_status(reply)}"
            elif choice == 3:  # HEAD
                reply = _raw(host, port, f"HEAD {rng.choice(tifs + pngs)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                key = "head"
            else:
                path = rng.choice(odd)
                reply = _raw(host, port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                key = f"odd {_status(reply)}"
            status = _status(reply)
            report[key] = report.get(key, 0) + 1
            if status >= 500 or status == 0 and choice >= 2:
                report[f"5xx/none: {status} {reply[:200]!r}"] = report.get(f"5xx/none: {status} {reply[:200]!r}", 0) + 1
        except OSError as exc:
            report[f"socket error {type(exc).__name__}"] = report.get(f"socket error {type(exc).__name__}", 0) + 1


def stalled_readers(host: str, port: int, pid: int, db: Path, tifs: list[str], n: int = 50, hold: float = 10.0) -> tuple[Sample, Sample, Sample]:
    """``n`` clients that ask for an image and then read nothing, held ``hold`` s, then gone: the server's
    samples before, while they hold, and after."""
    before = sample(pid, db)
    socks = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=60)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(f"GET {tifs[i % len(tifs)]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    time.sleep(hold)
    during = sample(pid, db)
    for s in socks:
        s.close()
    time.sleep(3)
    return before, during, sample(pid, db)


# -- the writer -----------------------------------------------------------------------------------------


def sitewatch(args: list[str], workspace: Path) -> tuple[float, int, str]:
    """(seconds, exit code, last lines of stderr) of ``sitewatch -q ARGS -w WS``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sitewatch", "-q", *args, "-w", str(workspace)],
                          capture_output=True, text=True, encoding="utf-8", check=False)  # fmt: skip
    return time.perf_counter() - start, done.returncode, done.stderr.strip()[-400:]


def writer(commands: list[list[str]], workspace: Path, stop: threading.Event, times: list[tuple[str, float, int, str]]) -> None:
    """Run ``commands`` one after another, again and again, until ``stop``."""
    while not stop.is_set():
        for cmd in commands:
            if stop.is_set():
                break
            seconds, code, err = sitewatch(cmd, workspace)
            times.append((" ".join(cmd), seconds, code, err))


# -- main -----------------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not listen in time")


def start_server(ws: Path, port: int) -> subprocess.Popen[bytes]:
    """``sitewatch serve -w WS --port PORT`` as its own process, its log in a pipe."""
    return subprocess.Popen([sys.executable, "-m", "sitewatch", "serve", "-w", str(ws), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops it; killed if it has not stopped in 30 s."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def compare_with_fresh_server(host: str, port: int, ws: Path, urls: list[str]) -> list[str]:
    """The addresses among ``urls`` whose status or body differ between the server under test (``port - 1``)
    and a server of the same workspace started now (``port``): what the first kept after the writes."""
    fresh = start_server(ws, port)
    try:
        _wait_listening(host, port, fresh)
        old = http.client.HTTPConnection(host, port - 1, timeout=300)
        new = http.client.HTTPConnection(host, port, timeout=300)
        differ = []
        for u in urls:
            answers = []
            for conn in (old, new):
                conn.request("GET", u)
                r = conn.getresponse()
                answers.append((r.status, r.read()))
            if answers[0] != answers[1]:
                differ.append(u)
        old.close()
        new.close()
        return differ
    finally:
        stop_server(fresh)


def main() -> None:  # noqa: C901, PLR0915
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--minutes", type=float, default=15)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between samples of the server process")
    ap.add_argument("--head-share", type=float, default=0.1, help="share of requests made as HEAD")
    ap.add_argument("--writer", action="append", default=[], help='a sitewatch command run in a loop ("detect --force"); repeat')
    ap.add_argument("--writer-baseline", type=int, default=2, help="runs of the writer's commands with no load first")
    ap.add_argument("--misbehave", action="store_true", help="add two clients that break the rules")
    ap.add_argument("--only", help="replay only the addresses that hold this text (a site id: its pages and images)")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--log", type=Path, help="write the server's log here")
    args = ap.parse_args()
    host, ws = "127.0.0.1", args.workspace.resolve()
    db = ws / "sitewatch.gpkg"
    writer_cmds = [shlex.split(w) for w in args.writer]

    baseline_writes: list[tuple[str, float, int, str]] = []
    for _ in range(args.writer_baseline if writer_cmds else 0):
        for cmd in writer_cmds:
            seconds, code, err = sitewatch(cmd, ws)
            baseline_writes.append((" ".join(cmd), seconds, code, err))
            print(f"writer, no load: {' '.join(cmd)}: {seconds:.1f} s (exit {code})", flush=True)

    server = start_server(ws, args.port)
    server_log: list[bytes] = []
    threading.Thread(target=lambda: server_log.extend(server.stderr or []), daemon=True).start()
    try:
        _wait_listening(host, args.port, server)
        start = time.monotonic()
        urls = [u for u in crawl(host, args.port) if args.only is None or args.only in u]
        kinds: dict[str, int] = defaultdict(int)
        for u in urls:
            kinds[kind_of(u)] += 1
        print(f"crawled {len(urls)} addresses in {time.monotonic() - start:.0f} s: {dict(sorted(kinds.items()))}", flush=True)
        samples = [sample(server.pid, db)]
        print(f"after the crawl: RSS {samples[0].rss_kb / 1024:.0f} MB, {samples[0].fds} fds, {samples[0].threads} threads", flush=True)

        stop = threading.Event()
        stats = Stats(t0=time.monotonic())
        threads = [threading.Thread(target=client, args=(host, args.port, urls, stats, stop, i, args.head_share), daemon=True)
                   for i in range(args.clients)]  # fmt: skip
        misbehaved: dict[str, int] = {}
        if args.misbehave:
            threads += [threading.Thread(target=misbehave, args=(host, args.port, urls, stop, misbehaved, 100 + i), daemon=True) for i in range(2)]
        writes: list[tuple[str, float, int, str]] = []
        wstop = threading.Event()
        wthread = threading.Thread(target=writer, args=(writer_cmds, ws, wstop, writes), daemon=True) if writer_cmds else None
        for t in threads:
            t.start()
        if wthread:
            wthread.start()
        end = stats.t0 + args.minutes * 60
        # The writer stops a minute before the end: the last minute shows whether the pages caught up.
        wend = end - 60 if wthread else end
        sidecars_seen: dict[str, int] = defaultdict(int)
        while time.monotonic() < end:
            time.sleep(args.sample)
            if time.monotonic() >= wend and not wstop.is_set():
                wstop.set()
            s = sample(server.pid, db)
            samples.append(s)
            for name in s.sidecars:
                sidecars_seen[name] += 1
        stop.set()
        wstop.set()
        for t in threads:
            t.join(timeout=60)
        if wthread:
            wthread.join(timeout=600)
        time.sleep(2)
        after = sample(server.pid, db)

        # Nothing stale kept: every address but the images' downloads answers as a server started now does.
        stale = compare_with_fresh_server(host, args.port + 1, ws, [u for u in urls if not u.endswith(".tif")])

        # -- the figures --
        minutes = sorted({m for m, _ in stats.latency})
        all_kinds = sorted({k for _, k in stats.latency})
        print()
        print("minute  requests  5xx   RSS MB  fds  threads  (ratios against minute 0)")
        by_min: dict[int, list[Sample]] = defaultdict(list)
        for s in samples[1:]:
            by_min[int((s.t - stats.t0) // 60)].append(s)
        base = by_min.get(0, samples[:1])[-1]
        rows = []
        for m in minutes:
            n = sum(c for (mm, _), c in stats.statuses.items() if mm == m)
            bad = sum(c for (mm, st), c in stats.statuses.items() if mm == m and st >= 500)
            s = by_min.get(m, [after])[-1]
            rows.append({"minute": m, "requests": n, "5xx": bad, "rss_mb": s.rss_kb / 1024, "fds": s.fds, "threads": s.threads,
                         "fd_gpkg": s.fd_gpkg, "fd_tif": s.fd_tif, "fd_sockets": s.fd_sockets})  # fmt: skip
            print(f"{m:6d}  {n:8d}  {bad:3d}  {s.rss_kb / 1024:7.0f}  {s.fds:4d}  {s.threads:7d}   "
                  f"RSS {s.rss_kb / base.rss_kb:.2f}  fds {s.fds / max(base.fds, 1):.2f}  "
                  f"(gpkg {s.fd_gpkg}, tif {s.fd_tif}, sockets {s.fd_sockets}, other {s.fd_other})")  # fmt: skip
        print()
        print("latency by kind, ms: median and p95 of minute 0 | of the last whole minute | ratio of the medians")
        lat = {}
        # The last whole minute (the one the clients stopped in is cut short).
        last = max([m for m in minutes if m < int(args.minutes)] or [0])
        for k in all_kinds:
            first, final = stats.latency.get((0, k), []), stats.latency.get((last, k), [])
            everything = [v for (m, kk), vs in stats.latency.items() if kk == k for v in vs]
            m0, m1 = _pct(first, 0.5) * 1000, _pct(final, 0.5) * 1000
            lat[k] = {"n": len(everything), "median_first": m0, "p95_first": _pct(first, 0.95) * 1000, "median_last": m1,
                      "p95_last": _pct(final, 0.95) * 1000, "median_all": _pct(everything, 0.5) * 1000, "max_all": max(everything) * 1000}  # fmt: skip
            print(f"  {k:24s} n={len(everything):6d}  {m0:7.1f} / {lat[k]['p95_first']:7.1f} | {m1:7.1f} / {lat[k]['p95_last']:7.1f} | "
                  f"{m1 / m0 if m0 else float('nan'):.2f}   max {lat[k]['max_all']:.0f}")  # fmt: skip
        total = sum(stats.statuses.values())
        statuses: dict[int, int] = defaultdict(int)
        for (_, st), c in stats.statuses.items():
            statuses[st] += c
        print()
        print(f"{total} requests in {args.minutes:g} min ({total / (args.minutes * 60):.0f}/s), {stats.bytes_read / 1e9:.2f} GB; statuses {dict(sorted(statuses.items()))}")
        for e in stats.errors[:20]:
            print("  5xx:", e)
        print(f"GeoPackage side files seen (samples): {dict(sidecars_seen) or 'none'}; after: {after.sidecars or 'none'}")
        print(f"after the load: RSS {after.rss_kb / 1024:.0f} MB, {after.fds} fds (gpkg {after.fd_gpkg}, tif {after.fd_tif}, "
              f"sockets {after.fd_sockets}, other {after.fd_other}), {after.threads} threads")  # fmt: skip
        if misbehaved:
            print("misbehaving clients:", dict(sorted(misbehaved.items())))
            tifs = [u for u in urls if u.endswith("/image.tif")]
            b, d, a = stalled_readers(host, args.port, server.pid, db, tifs)
            print(f"50 clients that ask for an image and read nothing, 10 s: fds {b.fds} before, {d.fds} while they wait "
                  f"(tif {d.fd_tif}, sockets {d.fd_sockets}), {a.fds} after they go (tif {a.fd_tif}); threads {b.threads}, "
                  f"{d.threads}, {a.threads}")  # fmt: skip
        if writer_cmds:
            by_cmd: dict[str, list[float]] = defaultdict(list)
            for cmd, seconds, code, err in writes:
                by_cmd[cmd].append(seconds)
                if code != 0:
                    print(f"  writer failed: {cmd}: exit {code}: {err}")
            for cmd, vs in by_cmd.items():
                b = [s for c, s, _, _ in baseline_writes if c == cmd]
                print(f"writer {cmd}: {len(vs)} runs under load, median {statistics.median(vs):.1f} s, max {max(vs):.1f} s; "
                      f"no load median {statistics.median(b):.1f} s: ratio {statistics.median(vs) / statistics.median(b):.2f}")  # fmt: skip
        print(f"addresses answered otherwise than by a server started after the load: {len(stale)} {stale[:10] or ''}")
        log = b"".join(server_log).decode("utf-8", "replace")
        if args.log:
            args.log.write_text(log, encoding="utf-8")
        # Each traceback's last line (the exception), counted.
        raised: dict[str, int] = defaultdict(int)
        for block in log.split("Traceback (most recent call last):")[1:]:
            last = next((line for line in block.splitlines() if line and not line.startswith(" ")), "?")
            raised[last[:300]] += 1
        print(f"server log: {sum(raised.values())} tracebacks")
        for line, n in sorted(raised.items(), key=lambda kv: -kv[1]):
            print(f"  {n} x {line}")
        if args.json:
            args.json.write_text(json.dumps({"minutes": rows, "latency_ms": lat, "statuses": statuses, "writes": writes,
                                             "baseline_writes": baseline_writes, "misbehaved": misbehaved,
                                             "samples": [s.__dict__ for s in samples]}, default=str, indent=1),
                                 encoding="utf-8")  # fmt: skip
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()

"""Reading mail-log files for ``import_maillog``: once, or followed like
``tail -F``.

A file is known by the hash of its first line (:class:`LogFile.source`),
not by its name: ``mail.log`` renamed to ``mail.log.1`` and compressed to
``mail.log.2.gz`` is still the same source, and the importer's committed
offset for it (``AccessImportPosition``) says where to go on. Offsets count
bytes of the uncompressed text; a line is consumed only once its newline
was written, so a line caught half-written is read whole on the next poll
(or the next run).

Following (:func:`follow`): each path is polled; at the end of a file the
path is checked for rotation (another inode: the rest of the old file was
just read, the new one is opened), truncation (shorter than what was
read) and replacement (another first line). The importer commits the
logins and the offsets together at least every second, so a follower
killed at any moment resumes after the last committed line: nothing twice,
nothing lost. ``-`` follows standard input (``journalctl -f``), read by a
thread so the one-second commits go on while no line arrives.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable

FIRST_LINE_LIMIT = 4096
READ_SIZE = 1 << 20
# Lines a follower reads before it looks at the clock again (at least one
# READ_SIZE chunk is read at a time).
FOLLOW_STEP = 2_000


def _open(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115


def fingerprint(first_line: bytes) -> str:
    return "file:" + hashlib.sha256(first_line).hexdigest()[:40]


class LogFile:
    """One path being read."""

    def __init__(self, path: str, importer, offsets: dict[str, int]):
        self.path = path
        self.importer = importer
        # source → offset consumed in this process (shared by the paths:
        # after a rotation two paths can name the same file).
        self.offsets = offsets
        self.handle = None
        self.ino: tuple[int, int] | None = None
        self.source: str | None = None
        self.offset = 0
        self.buffer = b""
        self.line_number = 0
        self.compressed = path.endswith(".gz")

    def _first_line(self, handle) -> bytes | None:
        handle.seek(0)
        head = handle.read(FIRST_LINE_LIMIT)
        end = head.find(b"\n")
        if end < 0:
            return head if len(head) >= FIRST_LINE_LIMIT else None
        return head[: end + 1]

    def open(self) -> bool:
        """Open the path and find where to start; False when there is no
        file, or no complete first line yet."""
        try:
            handle = _open(self.path)
            stat = os.fstat(handle.fileno())
            first = self._first_line(handle)
        except FileNotFoundError:
            return False
        except (OSError, EOFError, gzip.BadGzipFile):
            return False
        if first is None:
            handle.close()
            return False
        self.handle = handle
        self.ino = (stat.st_dev, stat.st_ino)
        self.source = fingerprint(first)
        start = max(self.importer.file_offset(self.source), self.offsets.get(self.source, 0))
        self.importer.stats.skipped_bytes += start
        self._seek(start)
        return True

    def _seek(self, offset: int) -> None:
        self.handle.seek(offset)
        self.offset = offset
        self.buffer = b""
        self.offsets[self.source] = max(self.offsets.get(self.source, 0), offset)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        self.handle = None
        self.source = None
        self.buffer = b""

    def read(self, limit: int, *, final: bool = False) -> int:
        """Feed up to about ``limit`` complete lines; with ``final`` (a
        compressed file read once) a last line without a newline too.
        Returns how many lines were fed."""
        if self.handle is None and not self.open():
            return 0
        # Another path (the file before or after a rotation) read further.
        if self.offsets.get(self.source, 0) > self.offset + len(self.buffer):
            self._seek(self.offsets[self.source])
        fed = 0
        label = self.path
        while fed < limit:
            chunk = self.handle.read(READ_SIZE)
            if not chunk:
                if final and self.buffer:
                    self._feed(self.buffer, label)
                    fed += 1
                    self.buffer = b""
                break
            data = self.buffer + chunk
            lines = data.split(b"\n")
            self.buffer = lines.pop()
            for raw in lines:
                self._feed(raw + b"\n", label)
                fed += 1
        return fed

    def _feed(self, raw: bytes, label: str) -> None:
        self.offset += len(raw)
        self.offsets[self.source] = self.offset
        self.line_number += 1
        # The position first: a commit the line triggers includes it.
        self.importer.set_file_position(self.source, self.path, self.offset)
        self.importer.feed_line(raw.decode("utf-8", "replace"), label, self.line_number)

    def changed(self) -> bool:
        """At the end of the file: was the path rotated, truncated or
        replaced? (Then the rest of this file was read: reopen the path.)"""
        if self.handle is None:
            return False
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return True
        if (stat.st_dev, stat.st_ino) != self.ino:
            return True
        if not self.compressed and stat.st_size < self.offset + len(self.buffer):
            return True
        try:
            with _open(self.path) as probe:
                first = self._first_line(probe)
        except OSError:
            return True
        return first is not None and fingerprint(first) != self.source


def read_once(importer, paths: list[str], batch_size: int) -> None:
    offsets: dict[str, int] = {}
    for path in paths:
        log = LogFile(path, importer, offsets)
        if not log.open():
            continue
        while log.read(batch_size, final=log.compressed):
            pass
        log.close()


def follow(
    importer,
    paths: list[str],
    *,
    stop: Callable[[], bool],
    batch_size: int = 100_000,
    commit_seconds: float = 1.0,
    poll_seconds: float = 0.2,
) -> None:
    """Follow ``paths`` until ``stop()`` is true, committing at least every
    ``commit_seconds``."""
    offsets: dict[str, int] = {}
    logs = [LogFile(path, importer, offsets) for path in paths]
    # Read a backlog in small steps, so the clock is looked at well within
    # the second whatever the batch size.
    step = min(batch_size, FOLLOW_STEP)
    last_commit = time.monotonic()
    while not stop():
        fed = 0
        for log in logs:
            got = log.read(step)
            if not got and log.changed():
                log.close()
                got = log.read(step)
            fed += got
        now = time.monotonic()
        if not fed or now - last_commit >= commit_seconds:
            importer.flush()
            last_commit = now
        if not fed:
            time.sleep(poll_seconds)
    importer.flush()


def follow_stream(
    importer,
    stream,
    *,
    stop: Callable[[], bool],
    commit_seconds: float = 1.0,
) -> None:
    """Feed lines of a text stream as they come until it ends or
    ``stop()`` is true, committing at least every ``commit_seconds``."""
    lines: queue.Queue = queue.Queue(maxsize=100_000)
    done = object()

    def reader():
        try:
            for line in stream:
                lines.put(line)
        finally:
            lines.put(done)

    threading.Thread(target=reader, daemon=True, name="maillog-stdin").start()
    last_commit = time.monotonic()
    number = 0
    while not stop():
        try:
            line = lines.get(timeout=min(0.2, commit_seconds))
        except queue.Empty:
            importer.flush()
            last_commit = time.monotonic()
            continue
        if line is done:
            break
        number += 1
        importer.feed_line(line, "stdin", number)
        if time.monotonic() - last_commit >= commit_seconds or lines.empty():
            importer.flush()
            last_commit = time.monotonic()
    importer.flush()


def stdin_text():
    import io

    stream = sys.stdin
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream = io.TextIOWrapper(buffer, encoding="utf-8", errors="replace")
    return stream

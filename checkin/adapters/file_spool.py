"""The intake spool on the local disk: one encrypted file per request, written as mail servers do.

    <dir>/tmp/       a request being written (never read)
    <dir>/new/       requests waiting to be stored, oldest first by name (<ns>-<pid>-<random>.req)
    <dir>/rejected/  requests the webhook refused when replayed (4xx), kept for a person to read
    <dir>/replay.lock  held (flock) by the one replayer at work on this spool

A request is written to tmp/, fsynced, renamed into new/ and the directory fsynced, before the
webhook answers: once `put` returns, a power cut does not lose it, and a reader never sees half of
one. Each file is a Fernet token (CHECKIN_ENCRYPTION_KEY), so the words and numbers in it are
encrypted at rest like the database's, and a file that was altered or not written by us fails to
decrypt instead of being replayed. Files are readable by the service's user only.

Why a file and not Redis: the spool exists for the moment storage fails, and the database and Redis
often fail together (the network, the same host, a maintenance window); the web process's own disk is
the one thing it still has. A Redis stream would also lose its last second on a crash under the
default AOF policy. See README, *Intake that cannot lose a signed text*.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from checkin import crypto
from checkin.spool import SpooledRequest, SpoolError

SUFFIX = ".req"


class FileSpool:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.new = self.path / "new"
        self.tmp = self.path / "tmp"
        self.rejected = self.path / "rejected"

    def _dirs(self) -> None:
        for d in (self.path, self.new, self.tmp, self.rejected):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)

    def put(self, request: SpooledRequest) -> str:
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        try:
            self._dirs()
            token = crypto.cipher().encrypt(request.to_json())
            tmp = self.tmp / name
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(token)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, self.new / name)
            _sync_dir(self.new)
        except OSError as exc:
            raise SpoolError(
                f"the spool at {self.path} cannot keep a request ({type(exc).__name__})"
            ) from exc
        return name

    def keys(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.new) if e.name.endswith(SUFFIX))
        except FileNotFoundError:
            return []

    def count(self) -> int:
        return len(self.keys())

    def load(self, key: str) -> SpooledRequest:
        raw = crypto.cipher().decrypt((self.new / _checked(key)).read_bytes())
        return SpooledRequest.from_json(raw, key)

    def __iter__(self) -> Iterator[SpooledRequest]:
        for key in self.keys():
            try:
                yield self.load(key)
            except FileNotFoundError:
                continue  # replayed meanwhile

    def remove(self, key: str) -> None:
        try:
            os.unlink(self.new / _checked(key))
        except FileNotFoundError:
            return
        _sync_dir(self.new)

    def set_aside(self, key: str, why: str) -> None:
        self._dirs()
        os.rename(self.new / _checked(key), self.rejected / key)
        (self.rejected / f"{key}.why").write_text(why + "\n")
        _sync_dir(self.rejected)
        _sync_dir(self.new)

    @contextmanager
    def replaying(self):
        self._dirs()
        fd = os.open(self.path / "replay.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _checked(key: str) -> str:
    if "/" in key or not key.endswith(SUFFIX) or key.startswith("."):
        raise ValueError(f"{key!r} is not a spooled request's name")
    return key


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Downloading a file with a checksum, leaving nothing half-written.

The file is streamed into a temporary file in the target folder while its
SHA-256 is computed; only when the download is complete and the checksum
matches is it renamed to its final name. Any failure -- network, disk,
checksum -- removes the temporary file.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request

from ..errors import DataError
from ..serialization import temporary_file


def sha256_of(path_or_bytes) -> str:
    h = hashlib.sha256()
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        h.update(path_or_bytes)
        return h.hexdigest()
    with open(path_or_bytes, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url, dest, sha256, timeout=60, progress=True, opener=None):
    """Download ``url`` to ``dest`` and check its SHA-256; atomic.

    Raises DataError (with the URL and the reason) on a network failure or
    a checksum mismatch; in both cases no file is left at ``dest`` or
    beside it."""
    dest = os.fspath(dest)
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = temporary_file(folder, ".download-")
    h = hashlib.sha256()
    opener = opener or urllib.request.urlopen
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with opener(url, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or 0) \
                        if hasattr(response, "headers") else 0
                    bar = _progress(os.path.basename(dest), total) if progress else None
                    while True:
                        chunk = response.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
                        h.update(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                    if bar is not None:
                        bar.close()
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                raise DataError(f"could not download {url}: {exc}") from None
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if digest != sha256:
            raise DataError(f"checksum mismatch for {url}: expected SHA-256 {sha256}, got "
                            f"{digest}; the download is corrupted or the file has changed")
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest


def _progress(name, total):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total or None, unit="B", unit_scale=True, desc=f"downloading {name}",
                leave=False)

"""HTTP download of raw files for ``load(..., download=True)``.

Imported by :func:`graphops.datasets.load` only when a file is actually fetched, so
``import graphops`` does not load this module.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["DownloadError", "download_file"]

_log = logging.getLogger("graphops.datasets")


class DownloadError(OSError):
    """Fetching a raw data file failed (HTTP error, network error, truncated body)."""


def download_file(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Fetch ``url`` into ``dest`` atomically (temporary file, then ``os.replace``).

    A failed or cut transfer leaves neither ``dest`` nor a partial file behind.

    Args:
        url: The address to fetch.
        dest: The file to create; its directory is created if needed.
        timeout: Seconds to wait for the server (per blocking operation).

    Raises:
        DownloadError: an HTTP error, a network error, or fewer bytes than the
            announced ``Content-Length``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    _log.info("downloading %s -> %s", url, dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    length = resp.headers.get("Content-Length")
                    received = 0
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
                        received += len(chunk)
            except urllib.error.HTTPError as err:
                raise DownloadError(
                    f"load: downloading {url} must succeed; got HTTP {err.code} "
                    f"({err.reason}). Check the address (the `url` argument) or copy "
                    f"the file by hand to '{dest}'."
                ) from err
            except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
                reason = getattr(err, "reason", err)
                raise DownloadError(
                    f"load: downloading {url} must succeed; got {type(err).__name__}: "
                    f"{reason}. Check the network (or the `url` argument) or copy the "
                    f"file by hand to '{dest}'."
                ) from err
        if length is not None and received != int(length):
            raise DownloadError(
                f"load: downloading {url} must give {int(length)} bytes "
                f"(Content-Length); got {received}. The transfer was cut; re-run with "
                "download=True."
            )
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise

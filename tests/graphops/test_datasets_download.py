"""Tests for ``load(..., download=True)`` against a local HTTP server.

A ``http.server`` on 127.0.0.1 (ephemeral port, own thread) serves a temporary
directory laid out like the upstream addresses (and, under ``/mirror``, like a data
root). The files are copied from the shared raw data, so these tests skip without it.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import threading
import urllib.request
from functools import partial
from pathlib import Path

import pytest
import torch

from graphops import datasets
from graphops.datasets import DATA_ENV_VAR, DEFAULT_URLS, DownloadError, load

_SHARED = Path(__file__).parents[3] / "shared" / "data"
DATA = Path(os.environ[DATA_ENV_VAR]) if os.environ.get(DATA_ENV_VAR) else _SHARED

CORA = [
    f"ind.cora.{e}"
    for e in ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
]
GEOM_FILES = ("out1_graph_edges.txt", "out1_node_feature_label.txt")


def _splits(stem: str) -> list[str]:
    return [f"{stem}_split_0.6_0.2_{i}.npz" for i in range(10)]


def _needed() -> list[Path]:
    files = [DATA / "Planetoid/Cora/raw" / f for f in CORA]
    for stem in ("cornell", "texas"):
        files += [DATA / "geom-gcn/new_data" / stem / f for f in GEOM_FILES]
    for stem in ("cornell", "texas", "cora"):
        files += [DATA / "geom-gcn/splits" / f for f in _splits(stem)]
    return files


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files; records every requested path; quiet; one odd route."""

    requests: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        if self.path.startswith("/short/"):
            # Announce more bytes than are sent, then close: a cut transfer.
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only a few bytes")
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``(base_url, request_log)`` of a server over an upstream-like tree."""
    absent = [p for p in _needed() if not p.is_file()]
    if absent:
        pytest.skip(
            f"raw data not found under {DATA} (set {DATA_ENV_VAR}); missing {absent[0]}"
        )
    site = tmp_path_factory.mktemp("site")
    # Upstream layouts: /planetoid/<file>, /geom-gcn/{new_data/<name>,splits}/<file>
    (site / "planetoid").mkdir()
    for f in CORA:
        shutil.copyfile(DATA / "Planetoid/Cora/raw" / f, site / "planetoid" / f)
    for stem in ("cornell", "texas"):
        (site / "geom-gcn/new_data" / stem).mkdir(parents=True)
        for f in GEOM_FILES:
            shutil.copyfile(
                DATA / "geom-gcn/new_data" / stem / f,
                site / "geom-gcn/new_data" / stem / f,
            )
    (site / "geom-gcn/splits").mkdir(parents=True)
    for stem in ("cornell", "texas", "cora"):
        for f in _splits(stem):
            shutil.copyfile(DATA / "geom-gcn/splits" / f, site / "geom-gcn/splits" / f)
    # A mirror of a data root, for url="<base>": /mirror/Planetoid, /mirror/geom-gcn
    (site / "mirror/Planetoid/Cora").mkdir(parents=True)
    shutil.copytree(site / "planetoid", site / "mirror/Planetoid/Cora/raw")
    shutil.copytree(site / "geom-gcn", site / "mirror/geom-gcn")

    log: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": log})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(site))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", log
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # A proxy configured in the environment must not intercept 127.0.0.1.
    for var in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _assert_same(a, b) -> None:
    assert a.name == b.name
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert torch.equal(a.graph.edge_index, b.graph.edge_index)
    assert torch.equal(a.graph.edge_weight, b.graph.edge_weight)
    for m, n in zip(a.split(0), b.split(0), strict=True):
        assert torch.equal(m, n)
    assert torch.equal(a.train_mask, b.train_mask) and torch.equal(
        a.test_mask, b.test_mask
    )


def _no_partial_files(root: Path) -> bool:
    return not any(p.name.endswith(".part") for p in root.rglob("*"))


def test_download_geom_gcn_into_empty_root(server, tmp_path):
    base, log = server
    root = tmp_path / "data"  # does not exist yet: created by download=True
    ds = load("cornell", root, download=True, url={"geom-gcn": f"{base}/geom-gcn"})
    _assert_same(ds, load("cornell", DATA))
    assert (root / "geom-gcn/new_data/cornell/out1_graph_edges.txt").is_file()
    assert len(list((root / "geom-gcn/splits").glob("cornell_split_*.npz"))) == 10
    assert _no_partial_files(root)


def test_download_planetoid_and_geom_gcn_split(server, tmp_path):
    base, _ = server
    urls = {"planetoid": f"{base}/planetoid", "geom-gcn": f"{base}/geom-gcn"}
    ds = load("cora", tmp_path, download=True, url=urls)
    _assert_same(ds, load("cora", DATA))
    geom = load("cora", tmp_path, split="geom-gcn", download=True, url=urls)
    _assert_same(geom, load("cora", DATA, split="geom-gcn"))
    assert _no_partial_files(tmp_path)


def test_download_from_a_mirror_of_root(server, tmp_path):
    base, _ = server
    ds = load("texas", tmp_path, download=True, url=f"{base}/mirror/")
    _assert_same(ds, load("texas", DATA))
    ds = load("cora", tmp_path, download=True, url=f"{base}/mirror")
    _assert_same(ds, load("cora", DATA))


def test_only_missing_files_are_fetched(server, tmp_path):
    base, log = server
    urls = {"geom-gcn": f"{base}/geom-gcn"}
    load("cornell", tmp_path, download=True, url=urls)
    (tmp_path / "geom-gcn/splits/cornell_split_0.6_0.2_4.npz").unlink()
    log.clear()
    load("cornell", tmp_path, download=True, url=urls)
    assert log == ["/geom-gcn/splits/cornell_split_0.6_0.2_4.npz"]
    log.clear()
    load("cornell", tmp_path, download=True, url=urls)  # everything present
    assert log == []


def test_http_404_names_the_url(server, tmp_path):
    base, _ = server
    url = f"{base}/nothing-here"
    with pytest.raises(
        DownloadError,
        match=(
            rf"load: downloading {url}/new_data/wisconsin/out1_graph_edges\.txt must "
            rf"succeed; got HTTP 404 \(File not found\)\. Check the address \(the "
            rf"`url` argument\) or copy the file by hand to '.*out1_graph_edges\.txt'"
        ),
    ):
        load("wisconsin", tmp_path, download=True, url={"geom-gcn": url})
    assert not (tmp_path / "geom-gcn/new_data/wisconsin/out1_graph_edges.txt").exists()
    assert _no_partial_files(tmp_path)


def test_connection_refused_names_the_url(tmp_path):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/pl"
    with pytest.raises(
        DownloadError,
        match=(
            rf"load: downloading {url}/ind\.cora\.x must succeed; got URLError: "
            rf".*Check the network"
        ),
    ):
        load("cora", tmp_path, download=True, url={"planetoid": url})
    assert _no_partial_files(tmp_path)


def test_cut_transfer_is_an_error_and_leaves_no_file(server, tmp_path):
    base, _ = server
    with pytest.raises(
        DownloadError,
        match=(
            rf"load: downloading {base}/short/ind\.cora\.x must give 1000 bytes "
            rf"\(Content-Length\); got 16\. The transfer was cut"
        ),
    ):
        load("cora", tmp_path, download=True, url={"planetoid": f"{base}/short"})
    assert not (tmp_path / "Planetoid/Cora/raw/ind.cora.x").exists()
    assert _no_partial_files(tmp_path)


def test_download_false_never_touches_the_network(monkeypatch, tmp_path):
    calls = []

    def forbidden(*args, **kwargs):
        calls.append(args)
        raise AssertionError("network access without download=True")

    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    with pytest.raises(
        FileNotFoundError, match=r"load: 'cornell' needs 12 raw files .*got 12 missing"
    ):
        load("cornell", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        load("cora", tmp_path / "absent")
    assert calls == []
    # With every file present, download=True does not connect either.
    if all((DATA / "geom-gcn/new_data/cornell" / f).is_file() for f in GEOM_FILES):
        load("cornell", DATA, download=True)
        assert calls == []


def test_missing_file_message_names_the_configured_source(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=(
            r"Pass download=True to fetch them \(e\.g\. from "
            r"http://mirror\.example/data\)"
        ),
    ):
        load("cora", tmp_path, url="http://mirror.example/data")
    with pytest.raises(
        FileNotFoundError,
        match=rf"e\.g\. from {DEFAULT_URLS['planetoid']}/ind\.cora\.x",
    ):
        load("cora", tmp_path)


def test_default_urls_are_the_canonical_addresses():
    assert (
        DEFAULT_URLS["planetoid"]
        == "https://github.com/kimiyoung/planetoid/raw/master/data"
    )
    assert (
        DEFAULT_URLS["geom-gcn"]
        == "https://raw.githubusercontent.com/graphdml-uiuc-jlu/geom-gcn/master"
    )
    with pytest.raises(TypeError):
        datasets.DEFAULT_URLS["planetoid"] = "x"  # type: ignore[index]

"""The lean HTTP/1.1 client (bench load and replay) against a real HTTP server (uvicorn, in this process)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from carbon_bureau.pilot import generate, replay_http
from carbon_bureau.pilot.rawhttp import HttpError, RawHttpPool

seen_peers: set[Any] = set()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes the JSON body back with its length; 422 for a body that is not JSON."""
    if scope["type"] != "http":
        return
    seen_peers.add(tuple(scope["client"]))
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    try:
        out, status = orjson.dumps({"path": scope["path"], "echo": orjson.loads(body), "n": len(body)}), 200
    except orjson.JSONDecodeError:
        out, status = b'{"detail":"not JSON"}', 422
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": out})


received: list[tuple[str, str, int]] = []


async def ingest_like(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers like ingest: 201 per enterprise; per submission, every third record (positions
    0, 3, 6, ...) rejected and the others accepted, so the tallied counts depend on what was sent."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    doc = orjson.loads(body)
    if scope["path"].endswith("/v1/enterprises"):
        status, out = 201, b"{}"
    else:
        records = doc["records"]
        received.append((scope["path"], doc["department"], len(records)))
        rejected = len(range(0, len(records), 3))
        status = 200
        out = orjson.dumps({"accepted": len(records) - rejected, "rejected": [{}] * rejected})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": out})


async def _serve(asgi: Any) -> AsyncIterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(srv.serve())
    while not srv.started:  # noqa: ASYNC110  (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    seen_peers.clear()
    received.clear()
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    await task


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async for url in _serve(app):
        yield url


@pytest.fixture
async def ingest_server() -> AsyncIterator[str]:
    async for url in _serve(ingest_like):
        yield url


async def test_a_replay_through_the_lean_client_sends_and_tallies_like_httpx(ingest_server: str) -> None:
    dataset = generate(seed=7, enterprises=6, months=2)
    lean = RawHttpPool(ingest_server + "/ingest", size=4)
    try:
        by_lean = await replay_http(dataset, lean, concurrency=4)
    finally:
        await lean.close()
    sent_lean = sorted(received)
    received.clear()
    async with httpx.AsyncClient(base_url=ingest_server) as client:
        by_httpx = await replay_http(dataset, client, prefix="/ingest", concurrency=4)
    assert sorted(received) == sent_lean
    assert {p for p, _, _ in sent_lean} == {"/ingest/v1/submissions"}
    assert sum(n for _, _, n in sent_lean) == dataset.record_count == by_lean.records
    rejected = sum(len(range(0, len(b["records"]), 3)) for b in dataset.submissions)
    for result in (by_lean, by_httpx):
        assert not result.errors
        assert result.enterprises == len(dataset.enterprises)
        assert (result.accepted, result.rejected) == (dataset.record_count - rejected, rejected)
        assert result.statuses[201] == len(dataset.enterprises)


async def test_posts_json_and_reuses_keep_alive_connections(server: str) -> None:
    pool = RawHttpPool(server + "/ingest", size=2)
    try:
        bodies = [
            orjson.dumps({"department": "stats-140400", "records": [{"i": i, "名称": "长治"}]})
            for i in range(20)
        ]
        answers = await asyncio.gather(*(pool.post_json("/v1/submissions", b) for b in bodies))
        for body, (status, payload) in zip(bodies, answers, strict=True):
            assert status == 200
            got = orjson.loads(payload)
            assert got == {"path": "/ingest/v1/submissions", "echo": orjson.loads(body), "n": len(body)}
        status, payload = await pool.post_json("/v1/submissions", b"{not json")
        assert status == 422 and b"not JSON" in payload
    finally:
        await pool.close()
    assert len(seen_peers) <= 2  # 21 requests over at most two connections


async def test_a_refused_connection_is_an_http_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    pool = RawHttpPool(f"http://127.0.0.1:{port}")
    with pytest.raises(HttpError, match="connect"):
        await pool.post_json("/x", b"{}")


def test_only_plain_http_origins() -> None:
    with pytest.raises(ValueError):
        RawHttpPool("https://example.org")


async def test_an_idle_connection_the_server_closed_is_replaced(server: str) -> None:
    pool = RawHttpPool(server, size=1)
    try:
        assert (await pool.post_json("/a", b"{}"))[0] == 200
        (_, writer) = pool._idle[0]
        writer.transport.abort()  # as if the server had timed the keep-alive connection out
        status, payload = await pool.post_json("/b", b'{"x": 1}')
        assert status == 200 and orjson.loads(payload)["echo"] == {"x": 1}
    finally:
        await pool.close()

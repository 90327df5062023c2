"""`rekall serve` against a real client: the official MCP Python SDK.

The server under test is the real binary with the real engine and the real
model (the default model folder compiled into it). Point REKALL_BIN at it:

    REKALL_BIN=build/rekall .venv-test/bin/pytest -q tests/mcp/test_rekall_serve.py

Every test gets a fresh database and config file in its own temporary
folder, and an environment without the user's REKALL_* variables. Waits are
bounded (WAIT_S, generous for sanitizer builds); no test asserts on how long
something took.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

WAIT_S = 120.0
LATEST = "2025-11-25"
REKALL_TOOLS = {
    "rekall_search", "rekall_show", "rekall_add", "rekall_similar",
    "rekall_info", "rekall_update", "rekall_delete",
    "rekall_help", "rekall_link", "rekall_unlink", "rekall_related", "rekall_stale", "rekall_deprecate",
    "rekall_suggest", "rekall_get_context", "rekall_generalize", "rekall_sources_suggest", "rekall_sources_verify",
}


@pytest.fixture(scope="session")
def rekall_bin() -> str:
    path = os.environ.get("REKALL_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("set REKALL_BIN to the rekall binary (got %r)" % path)
    return path


class Kb:
    """A fresh knowledge base: database, config file, environment."""

    def __init__(self, rekall_bin: str, folder: Path) -> None:
        self.bin = rekall_bin
        self.folder = folder
        self.db = str(folder / "knowledge.db")
        self.config = str(folder / "config.toml")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REKALL_")}
        self.env["HOME"] = str(folder)
        self.env["XDG_CONFIG_HOME"] = str(folder / "xdg-config")
        self.env["XDG_DATA_HOME"] = str(folder / "xdg-data")
        self.write_config("")

    def write_config(self, text: str) -> None:
        Path(self.config).write_text(text)

    def args(self, *more: str) -> list[str]:
        return ["--db", self.db, "--config", self.config, *more]

    def cli(self, *more: str, input: str | None = None) -> subprocess.CompletedProcess:
        """Runs `rekall <more>` on this database; fails the test if it fails."""
        p = subprocess.run([self.bin, *self.args(*more)], input=input, capture_output=True, text=True,
                           env=self.env, timeout=WAIT_S,
                           stdin=None if input is not None else subprocess.DEVNULL)
        assert p.returncode == 0, f"rekall {' '.join(more)}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def import_entries(self, entries: list[dict[str, Any]], embed: bool = True) -> None:
        path = self.folder / "import.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in entries))
        self.cli("import", str(path), *([] if embed else ["--no-embed"]))

    def server(self, *more: str) -> StdioServerParameters:
        return StdioServerParameters(command=self.bin, args=self.args("serve", *more), env=self.env)


@pytest.fixture
def kb(rekall_bin: str, tmp_path: Path) -> Kb:
    return Kb(rekall_bin, tmp_path)


SEED = [
    {"title": "nginx 502 bad gateway behind the load balancer", "type": "bug", "project": "infra",
     "content": "The upstream took longer than proxy_read_timeout; raised it to 120s.", "tags": ["nginx"]},
    {"title": "Postgres connection pool exhausted", "type": "bug", "project": "api",
     "content": "Too many clients: each worker opened its own pool. Share one pool per process."},
    {"title": "React useEffect cleanup for subscriptions", "type": "pattern", "project": "web",
     "content": "Return an unsubscribe function from the effect so the listener does not leak."},
    {"title": "Use ULIDs for entry ids", "type": "decision",
     "content": "Sortable by creation time, no coordination, 26 characters."},
    {"title": "CORS preflight fails for PUT", "type": "pitfall", "project": "web",
     "content": "The browser sends OPTIONS first; the API must answer it with Access-Control-Allow-Methods."},
]


async def call(session: ClientSession, tool: str, args: dict[str, Any]) -> Any:
    return await session.call_tool(tool, args)


def ids(result: Any) -> list[str]:
    return [r["id"] for r in result.structured_content["results"]]


async def wait_for_model_state(session: ClientSession, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        info = (await session.call_tool("rekall_info", {})).structured_content
        if info["model_state"] == state:
            return info
        if time.monotonic() > deadline:
            pytest.fail(f"model never reached state {state!r}: {info}")
        await anyio.sleep(0.05)


# ---------------------------------------------------------------- SDK tests


def test_initialize_and_list_tools_without_loading_the_model(kb: Kb) -> None:
    async def main() -> None:
        async with stdio_client(kb.server()) as (r, w):
            async with ClientSession(r, w) as session:
                init = await session.initialize()
                assert init.protocol_version == LATEST
                assert init.server_info.name == "rekall"
                assert init.capabilities.tools is not None
                assert "rekall_search" in (init.instructions or "")
                tools = {t.name: t for t in (await session.list_tools()).tools}
                assert set(tools) == REKALL_TOOLS
                assert tools["rekall_search"].input_schema["required"] == ["query"]
                assert tools["rekall_similar"].input_schema["required"] == ["entry_id"]
                # Nothing so far needed the model: it was never loaded.
                info = (await session.call_tool("rekall_info", {})).structured_content
                assert info["model_state"] == "unloaded"
                assert info["model_loads"] == 0

    anyio.run(main)


def test_every_tool(kb: Kb) -> None:
    async def main() -> None:
        async with stdio_client(kb.server()) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                added = {}
                for e in SEED:
                    res = await call(session, "rekall_add", e)
                    assert res.is_error is False, res.content[0].text
                    added[e["title"]] = res.structured_content["id"]
                nginx = added[SEED[0]["title"]]

                # Rekall's structured context is kept and shown.
                res = await call(session, "rekall_add", {
                    "type": "config", "title": "Gunicorn worker timeout for slow uploads",
                    "content": "Set --timeout 300 for the upload service.",
                    "context": {"situation": "uploads cut at 30s", "solution": "raise the timeout",
                                "trigger_keywords": ["gunicorn", "timeout", "upload"]},
                    "confidence": 4, "tags": ["python", "deploy"]})
                assert res.is_error is False
                gunicorn = res.structured_content["id"]

                show = await call(session, "rekall_show", {"id": gunicorn})
                assert show.is_error is False
                assert show.structured_content["title"] == "Gunicorn worker timeout for slow uploads"
                assert show.structured_content["confidence"] == 4
                assert show.structured_content["tags"] == ["deploy", "python"]
                assert show.structured_content["context"]["situation"] == "uploads cut at 30s"
                assert "Set --timeout 300" in show.content[0].text
                prefix = await call(session, "rekall_show", {"id": gunicorn[:20].lower()})
                assert prefix.structured_content["id"] == gunicorn

                # Search, by meaning: no word of the query is in the entry.
                res = await call(session, "rekall_search",
                                 {"query": "the reverse proxy gave up waiting for the backend", "mode": "semantic"})
                assert res.is_error is False
                assert res.structured_content["mode"] == "semantic"
                assert res.structured_content["model_loading"] is False
                assert ids(res)[0] == nginx
                top = res.structured_content["results"][0]
                assert top["title"] == SEED[0]["title"]
                assert top["type"] == "bug"
                assert top["why"]["vector_rank"] == 1 and 0 < top["why"]["cosine"] <= 1
                assert nginx in res.content[0].text and "why: vector #1" in res.content[0].text

                res = await call(session, "rekall_search", {"query": "preflight", "mode": "keyword"})
                assert res.structured_content["mode"] == "keyword"
                assert ids(res) == [added[SEED[4]["title"]]]
                assert "bm25" in res.structured_content["results"][0]["why"]

                res = await call(session, "rekall_search", {"query": "nginx timeout", "mode": "hybrid", "limit": 3})
                assert res.structured_content["mode"] == "hybrid"
                default = await call(session, "rekall_search", {"query": "nginx timeout", "limit": 3})
                assert default.structured_content["mode"] == "hybrid"
                assert ids(default) == ids(res)
                assert len(ids(res)) == 3
                assert ids(res)[0] == nginx
                why = res.structured_content["results"][0]["why"]
                assert "keyword_rank" in why and "vector_rank" in why

                res = await call(session, "rekall_search", {"query": "frontend", "type": "pattern", "project": "web"})
                assert ids(res) == [added[SEED[2]["title"]]]

                # Similar.
                res = await call(session, "rekall_similar", {"entry_id": nginx, "limit": 2})
                assert res.is_error is False
                assert len(ids(res)) == 2 and nginx not in ids(res)

                # Update: given fields change, the rest stays.
                res = await call(session, "rekall_update", {"id": nginx, "confidence": 5, "tags": ["nginx", "proxy"]})
                assert res.is_error is False
                assert sorted(res.structured_content["updated"]) == ["confidence", "tags"]
                show = await call(session, "rekall_show", {"id": nginx})
                assert show.structured_content["confidence"] == 5
                assert show.structured_content["tags"] == ["nginx", "proxy"]
                assert show.structured_content["content"] == SEED[0]["content"]

                # Info.
                info = await call(session, "rekall_info", {})
                assert info.is_error is False
                s = info.structured_content
                assert s["entries"] == 6 and s["summary_embeddings"] == 6
                assert s["model_state"] == "loaded" and s["model_loads"] == 1
                assert s["rss_kb"] > 0 and "query_cache" in s and s["backend"]

                # Delete, then it is gone everywhere.
                res = await call(session, "rekall_delete", {"id": nginx})
                assert res.is_error is True and "confirm" in res.content[0].text
                res = await call(session, "rekall_delete", {"id": nginx, "confirm": False})
                assert res.is_error is True
                res = await call(session, "rekall_delete", {"id": nginx, "confirm": True})
                assert res.is_error is False
                gone = await call(session, "rekall_show", {"id": nginx})
                assert gone.is_error is True
                assert "no entry with id" in gone.content[0].text
                res = await call(session, "rekall_search", {"query": "reverse proxy backend timeout", "limit": 10})
                assert nginx not in ids(res)

                # Tool errors the model can read.
                for tool, args in [("rekall_show", {"id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}),
                                   ("rekall_delete", {"id": nginx, "confirm": True}),
                                   ("rekall_update", {"id": "nope", "title": "x"}),
                                   ("rekall_similar", {"entry_id": "nope"}),
                                   ("rekall_search", {"query": "x", "type": "nonsense"}),
                                   ("rekall_add", {"type": "bug", "title": ""}),
                                   ("rekall_add", {"type": "essay", "title": "x"})]:
                    res = await call(session, tool, args)
                    assert res.is_error is True, (tool, args)
                with pytest.raises(MCPError) as unknown:
                    await call(session, "rekall_nonexistent", {})
                assert unknown.value.code == -32602

    anyio.run(main)


def test_newer_search_supersedes_the_running_one(kb: Kb) -> None:
    # Many entries sharing a word make a broad search slow enough; the first
    # attempt also pays for the model load. A fast machine may still finish
    # the first search before the second arrives, so a few attempts are
    # allowed; every attempt must end either superseded or normally.
    kb.import_entries([{"title": f"common note {i}", "type": "reference",
                        "content": f"common words shared by every note, number {i} of many " + "filler " * 30}
                       for i in range(1500)], embed=False)

    async def main() -> None:
        async with stdio_client(kb.server("--no-background-embedding")) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                superseded = 0
                for attempt in range(8):
                    results: dict[str, Any] = {}
                    async with anyio.create_task_group() as tg:
                        async def first() -> None:
                            results["first"] = await session.call_tool(
                                "rekall_search",
                                {"query": "common words shared by every note", "mode": "hybrid", "limit": 200})

                        tg.start_soon(first)
                        await anyio.sleep(0)
                        results["second"] = await session.call_tool(
                            "rekall_search", {"query": "number 7 of many", "mode": "keyword", "limit": 3})
                    second = results["second"]
                    assert second.is_error is False, second.content[0].text
                    assert second.structured_content["mode"] == "keyword"
                    assert second.structured_content["results"]
                    first_result = results["first"]
                    if first_result.is_error:
                        assert first_result.structured_content["cancelled"] is True
                        assert first_result.structured_content["reason"] == "superseded"
                        assert "cancelled" in first_result.content[0].text
                        superseded += 1
                        if superseded >= 2:
                            break
                    else:
                        assert len(first_result.structured_content["results"]) == 200
                assert superseded >= 1, "the first search always finished before the second arrived"
                # Still serving normally.
                assert (await session.call_tool("rekall_info", {})).structured_content["entries"] == 1500

    anyio.run(main)


def test_client_cancellation_and_the_server_goes_on(kb: Kb) -> None:
    kb.import_entries(SEED)

    async def main() -> None:
        async with stdio_client(kb.server()) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                async with anyio.create_task_group() as tg:
                    async def doomed() -> None:
                        await session.call_tool("rekall_search", {"query": "bad gateway", "mode": "hybrid"})

                    tg.start_soon(doomed)
                    await anyio.sleep(0)
                    # Cancelling the caller makes the SDK send
                    # notifications/cancelled for the request.
                    tg.cancel_scope.cancel()
                res = await session.call_tool("rekall_search", {"query": "bad gateway"})
                assert res.is_error is False
                assert ids(res)[0]

    anyio.run(main)


def test_concurrent_writer_process(kb: Kb) -> None:
    kb.import_entries(SEED)

    async def main() -> None:
        async with stdio_client(kb.server()) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                before = await call(session, "rekall_search", {"query": "kubernetes pod evicted", "limit": 10})
                assert before.structured_content["count"] == len(SEED)

                # Another process writes to the same file while we serve.
                out = kb.cli("--json", "add", "--type", "bug", "--title", "Kubernetes pod evicted for memory",
                             "--content", "The node ran out of memory; set requests and limits.")
                new_id = json.loads(out.stdout)["id"]
                res = await call(session, "rekall_search", {"query": "kubernetes pod evicted", "limit": 3})
                assert ids(res)[0] == new_id
                res = await call(session, "rekall_search", {"query": "evicted", "mode": "keyword"})
                assert ids(res) == [new_id]
                assert (await call(session, "rekall_show", {"id": new_id})).is_error is False
                similar = await call(session, "rekall_similar", {"entry_id": new_id})
                assert similar.is_error is False

                # Deleted by the other process: never returned again.
                kb.cli("delete", new_id)
                res = await call(session, "rekall_search", {"query": "kubernetes pod evicted", "limit": 10})
                assert new_id not in ids(res)
                res = await call(session, "rekall_search", {"query": "evicted", "mode": "keyword"})
                assert ids(res) == []
                assert (await call(session, "rekall_show", {"id": new_id})).is_error is True

                # And our own writes are seen by the other process.
                added = await call(session, "rekall_add", {"type": "decision", "title": "Served write"})
                shown = kb.cli("--json", "show", added.structured_content["id"])
                assert json.loads(shown.stdout)["title"] == "Served write"

    anyio.run(main)


def test_serve_embeds_missing_entries_in_the_background(kb: Kb) -> None:
    """A Rekall file that never had embeddings (Rekall's default): serve
    builds them in the background, rekall_info follows it, and semantic
    search then ranks by meaning."""
    kb.import_entries(SEED, embed=False)

    async def main() -> None:
        async with stdio_client(kb.server()) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                deadline = time.monotonic() + WAIT_S
                while True:
                    res = await session.call_tool("rekall_info", {})
                    info = res.structured_content
                    state = info["background_embedding"]["state"]
                    assert state in ("running", "done"), info
                    if state == "done":
                        break
                    assert "background embedding: running" in res.content[0].text
                    if time.monotonic() > deadline:
                        pytest.fail(f"background embedding never finished: {info}")
                    await anyio.sleep(0.1)
                assert info["background_embedding"] == {"state": "done", "done": len(SEED), "remaining": 0}
                assert info["summary_embeddings"] == len(SEED)
                res = await session.call_tool("rekall_search", {"query": "upstream server too slow", "mode": "semantic"})
                assert res.is_error is False
                assert res.structured_content["mode"] == "semantic"
                assert res.structured_content["results"][0]["title"].startswith("nginx 502")

    anyio.run(main)
    # Written to the file: a new process sees every embedding.
    st = json.loads(kb.cli("--json", "stats").stdout)
    assert st["summary_embeddings"] == len(SEED)


def test_search_while_the_model_loads_gives_marked_keyword_results(kb: Kb) -> None:
    kb.import_entries(SEED)
    # No wait at all for a loading model: the first semantic search starts
    # the load and answers with keyword results at once.
    kb.write_config("[engine]\nmodel_load_wait_seconds = 0.0\n")

    async def main() -> None:
        async with stdio_client(kb.server()) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                res = await call(session, "rekall_search", {"query": "gateway", "mode": "semantic"})
                assert res.is_error is False, res.content[0].text
                s = res.structured_content
                assert s["model_loading"] is True
                assert s["mode"] == "keyword"
                assert s["requested_mode"] == "semantic"
                assert ids(res) == [ids_by_title(s, SEED[0]["title"])]
                assert "model is loading" in res.content[0].text
                assert "keyword" in res.content[0].text

                # Once loaded, the same search is semantic.
                await wait_for_model_state(session, "loaded")
                res = await call(session, "rekall_search", {"query": "gateway", "mode": "semantic"})
                assert res.structured_content["model_loading"] is False
                assert res.structured_content["mode"] == "semantic"
                assert len(ids(res)) == len(SEED)

    anyio.run(main)


def ids_by_title(structured: dict[str, Any], title: str) -> str:
    for r in structured["results"]:
        if r["title"] == title:
            return r["id"]
    pytest.fail(f"{title!r} not among {structured['results']}")


def test_warm_start_and_idle_unload(kb: Kb) -> None:
    kb.import_entries(SEED)
    # REKALL_MODEL_IDLE_TIMEOUT_SECONDS: the model manager's finer idle
    # timeout (config [performance] model_idle_timeout_minutes is in minutes).
    kb.env["REKALL_MODEL_IDLE_TIMEOUT_SECONDS"] = "1"

    async def main() -> None:
        async with stdio_client(kb.server("--warm")) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                # --warm loads in the background without a request.
                loaded = await wait_for_model_state(session, "loaded")
                assert loaded["model_loads"] == 1
                res = await call(session, "rekall_search", {"query": "bad gateway", "mode": "semantic"})
                assert res.structured_content["mode"] == "semantic"
                unloaded = await wait_for_model_state(session, "unloaded")
                assert unloaded["model_loads"] == 1
                # The query cache answers a repeated query without the model...
                res = await call(session, "rekall_search", {"query": "bad gateway", "mode": "semantic"})
                assert res.structured_content["mode"] == "semantic"
                assert (await call(session, "rekall_info", {})).structured_content["model_state"] == "unloaded"
                # ...a new one loads it again, transparently.
                res = await call(session, "rekall_search", {"query": "gateway timeout at the proxy", "mode": "semantic"})
                assert res.is_error is False
                assert res.structured_content["mode"] == "semantic"
                info = (await call(session, "rekall_info", {})).structured_content
                assert info["model_loads"] == 2

    anyio.run(main)


# ---------------------------------------------------------------- raw pipes


class RawServer:
    """`rekall serve` as a subprocess, spoken to line by line."""

    def __init__(self, kb: Kb, *args: str) -> None:
        self.proc = subprocess.Popen([kb.bin, *kb.args("serve", *args)], env=kb.env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self._buf = b""

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def line(self, message: dict[str, Any]) -> bytes:
        return json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n"

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(self.line(message))

    def read(self) -> dict[str, Any] | None:
        deadline = time.monotonic() + WAIT_S
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sel.select(left):
                pytest.fail("no message from the server")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                assert self._buf == b"", "unterminated output"
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0"
        return message

    def initialize(self) -> dict[str, Any]:
        self.send({"id": "init", "method": "initialize", "params": {
            "protocolVersion": LATEST, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
        response = self.read()
        assert response["id"] == "init"
        self.send({"method": "notifications/initialized"})
        return response

    def close(self) -> tuple[int, list[dict[str, Any]], str]:
        self.proc.stdin.close()
        rest = []
        while (message := self.read()) is not None:
            rest.append(message)
        code = self.proc.wait(timeout=WAIT_S)
        return code, rest, self.proc.stderr.read().decode(errors="replace")


@pytest.fixture
def raw(kb: Kb):
    servers: list[RawServer] = []

    def start(*args: str) -> RawServer:
        servers.append(RawServer(kb, *args))
        return servers[-1]

    yield start
    for s in servers:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def test_raw_malformed_messages_and_serving_goes_on(kb: Kb, raw) -> None:
    kb.import_entries(SEED, embed=False)
    s = raw("--no-background-embedding")
    s.initialize()
    cases: list[tuple[bytes, int]] = [
        (b"{this is not json\n", -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call"\n', -32700),
        (b'{"jsonrpc":"2.0","id":2,"method":"p\xc3\x28"}\n', -32700),
        (b'[{"jsonrpc":"2.0","id":3,"method":"ping"}]\n', -32600),
        (b'{"jsonrpc":"2.0","id":4,"method":"resources/list"}\n', -32601),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"rekall_nope"}}\n', -32602),
        (b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"rekall_show","arguments":"x"}}\n', -32602),
    ]
    for n, (line, code) in enumerate(cases):
        s.send_raw(line)
        response = s.read()
        assert response["error"]["code"] == code, line
        s.send({"id": f"after{n}", "method": "tools/call",
                "params": {"name": "rekall_search", "arguments": {"query": "gateway", "mode": "keyword"}}})
        after = s.read()
        assert after["id"] == f"after{n}", line
        assert after["result"]["isError"] is False
        assert after["result"]["structuredContent"]["count"] == 1

    # Wrong argument types: a tool error the model can read (2025-11-25).
    s.send({"id": 7, "method": "tools/call",
            "params": {"name": "rekall_search", "arguments": {"query": 42, "limit": "ten"}}})
    response = s.read()
    assert response["id"] == 7 and response["result"]["isError"] is True
    assert "query: expected string" in response["result"]["content"][0]["text"]

    s.send({"id": 8, "method": "ping"})
    assert s.read() == {"jsonrpc": "2.0", "id": 8, "result": {}}
    code, rest, stderr = s.close()
    assert code == 0
    assert rest == []
    assert "Parse error" in stderr


def test_raw_cancelled_search_gets_no_response(kb: Kb, raw) -> None:
    kb.import_entries(SEED)
    s = raw()
    s.initialize()
    # The call and its cancellation in one write: the search (which starts
    # with a model load) is still running when the notification is read.
    s.send_raw(s.line({"id": 5, "method": "tools/call",
                       "params": {"name": "rekall_search", "arguments": {"query": "gateway", "mode": "hybrid"}}})
               + s.line({"method": "notifications/cancelled", "params": {"requestId": 5, "reason": "stop"}}))
    s.send({"id": 6, "method": "tools/call", "params": {"name": "rekall_search", "arguments": {"query": "gateway"}}})
    response = s.read()
    assert response["id"] == 6
    assert response["result"]["isError"] is False
    code, rest, stderr = s.close()
    assert code == 0
    assert [m.get("id") for m in rest] == []
    assert "cancelled by the client" in stderr


def test_raw_deeply_nested_values_are_rejected_and_serving_goes_on(kb: Kb, raw) -> None:
    """A value nested 300,000 levels deep (600 KB, well under the 4 MiB
    message limit) used to overflow the server's stack once copied or
    dumped: in tools/call arguments, and as a cancelled requestId."""
    kb.import_entries(SEED, embed=False)
    deep = b"[" * 300_000 + b"]" * 300_000
    s = raw("--no-background-embedding")
    s.initialize()
    for n, tool, args in [
        (1, b"rekall_add", b'{"type":"bug","title":"deep","context":{"situation":' + deep + b"}}"),
        (2, b"rekall_search", b'{"query":"gateway","filters":' + deep + b"}"),
    ]:
        s.send_raw(b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"%s","arguments":%s}}\n'
                   % (n, tool, args))
        response = s.read()
        assert response is not None, "the server died"
        assert response["id"] == n  # answered under its own id: the client is not left waiting
        assert response["error"]["code"] == -32600
        assert response["error"]["data"] == {"maxDepth": 128}
    # A notification is never answered, a too-deep one neither.
    s.send_raw(b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":' + deep + b"}}\n")
    for n in range(3, 6):  # and the server keeps answering
        s.send({"id": n, "method": "tools/call",
                "params": {"name": "rekall_search", "arguments": {"query": "gateway", "mode": "keyword"}}})
        after = s.read()
        assert after["id"] == n
        assert after["result"]["structuredContent"]["count"] == 1
    code, rest, stderr = s.close()
    assert code == 0
    assert rest == []
    assert "nested deeper than 128 levels" in stderr
    # The rejected add stored nothing.
    assert len(json.loads(kb.cli("--json", "list").stdout)) == len(SEED)

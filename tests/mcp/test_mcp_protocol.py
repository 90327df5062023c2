"""The MCP stdio server against a real client: the official MCP Python SDK.

The server under test is `rekall_mcp_fake_server` (src/server, built when
REKALL_BUILD_TESTS is on): McpServer around a fake tool handler whose `slow`
tool blocks until cancelled. Point REKALL_MCP_SERVER at the binary:

    REKALL_MCP_SERVER=build/src/server/rekall_mcp_fake_server \
        .venv-test/bin/pytest -q tests/mcp

Two kinds of tests: through the SDK (`ClientSession`, `Client`) for the
protocol a real agent speaks, and raw lines over a subprocess pipe for what
no SDK would send (malformed JSON, batches, oversized lines...).

Every wait is bounded (WAIT_S) so a broken server fails instead of hanging;
no test asserts on how long something took.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from typing import Any

import anyio
import pytest
from mcp import ClientSession, Client, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

WAIT_S = 30.0
LATEST = "2025-11-25"


@pytest.fixture(scope="session")
def server_path() -> str:
    path = os.environ.get("REKALL_MCP_SERVER")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("set REKALL_MCP_SERVER to the rekall_mcp_fake_server binary (got %r)" % path)
    return path


def params(server_path: str, *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=server_path, args=list(args))


async def wait_for_stats(session: ClientSession, key: str, value: int) -> dict[str, Any]:
    """Polls the fake `stats` tool until stats[key] >= value (bounded)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        stats = (await session.call_tool("stats", {})).structured_content
        if stats[key] >= value:
            return stats
        if time.monotonic() > deadline:
            pytest.fail(f"stats[{key!r}] never reached {value}: {stats}")
        await anyio.sleep(0.01)


# ---------------------------------------------------------------- SDK tests


def test_initialize_and_list_tools(server_path: str) -> None:
    async def main() -> None:
        async with stdio_client(params(server_path, "--rekall-tools")) as (r, w):
            async with ClientSession(r, w) as session:
                init = await session.initialize()
                assert init.protocol_version == LATEST
                assert init.server_info.name == "rekall-fake"
                assert init.capabilities.tools is not None
                assert init.capabilities.tools.list_changed is False
                await session.send_ping()

                tools = {t.name: t for t in (await session.list_tools()).tools}
                assert {"echo", "slow", "fail", "boom", "typed", "stats"} <= set(tools)
                assert {
                    "rekall_search", "rekall_show", "rekall_add", "rekall_similar",
                    "rekall_info", "rekall_update", "rekall_delete",
                } <= set(tools)
                search = tools["rekall_search"].input_schema
                assert search["required"] == ["query"]
                assert search["properties"]["limit"]["default"] == 10
                assert set(search["properties"]) == {
                    "query", "context", "type", "project", "limit", "mode", "tags", "include_obsolete",
                    "memory_type"}
                add = tools["rekall_add"].input_schema
                assert add["properties"]["type"]["enum"] == [
                    "bug", "pattern", "decision", "pitfall", "config", "reference"]

    anyio.run(main)


def test_high_level_client_falls_back_from_discover(server_path: str) -> None:
    # Client(mode="auto") probes server/discover first; our -32601 must send
    # it to the initialize handshake.
    async def main() -> None:
        async with Client(params(server_path)) as client:
            result = await client.call_tool("echo", {"text": "via Client"})
            assert result.content[0].text == "via Client"
            assert client.session.initialize_result is not None

    anyio.run(main)


def test_call_tool_results_and_errors(server_path: str) -> None:
    async def main() -> None:
        async with stdio_client(params(server_path, "--rekall-tools")) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()

                ok = await session.call_tool("echo", {"text": "héllo ✓"})
                assert ok.is_error is False
                assert ok.content[0].type == "text"
                assert ok.content[0].text == "héllo ✓"
                assert ok.structured_content == {"echo": "héllo ✓"}

                failed = await session.call_tool("fail", {"message": "no such entry"})
                assert failed.is_error is True
                assert failed.content[0].text == "no such entry"

                boom = await session.call_tool("boom", {})
                assert boom.is_error is True
                assert "internal error" in boom.content[0].text

                with pytest.raises(MCPError) as unknown:
                    await session.call_tool("nosuchtool", {})
                assert unknown.value.code == -32602

                # 2025-11-25 (SEP-1303): bad arguments are a tool error the
                # model can read, not a protocol error.
                bad = await session.call_tool("typed", {"n": "three", "kind": "c"})
                assert bad.is_error is True
                assert "n: expected integer, got string" in bad.content[0].text
                assert "kind: must be one of" in bad.content[0].text

                # The handler sees defaults filled in and null optionals dropped.
                seen = await session.call_tool("rekall_search", {"query": "cors", "project": None})
                assert seen.structured_content == {
                    "tool": "rekall_search",
                    "args": {"query": "cors", "limit": 10, "mode": "hybrid"},
                }

    anyio.run(main)


def test_invalid_utf8_from_a_tool_reaches_the_client_replaced(server_path: str) -> None:
    """A tool whose text is not valid UTF-8 (a stored text another program
    wrote) must not kill the server: the client gets U+FFFD in its place."""
    async def main() -> None:
        async with stdio_client(params(server_path)) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                result = await session.call_tool("bad_utf8", {})
                assert result.content[0].text == "bad \ufffd byte"
                assert result.structured_content == {"text": "bad \ufffd tail", "key \ufffd": 1}
                assert (await session.call_tool("echo", {"text": "still here"})).content[0].text == "still here"

    anyio.run(main)


def test_client_cancel_stops_the_call(server_path: str) -> None:
    async def main() -> None:
        async with stdio_client(params(server_path)) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                async with anyio.create_task_group() as tg:
                    async def slow() -> None:
                        await session.call_tool("slow", {"label": "doomed"})
                        pytest.fail("a cancelled call returned")

                    tg.start_soon(slow)
                    await wait_for_stats(session, "started", 1)
                    # Cancelling the caller makes the SDK send
                    # notifications/cancelled for the request.
                    tg.cancel_scope.cancel()
                stats = await wait_for_stats(session, "cancelled", 1)
                assert stats["completed"] == 0
                # The server goes on serving.
                assert (await session.call_tool("echo", {"text": "still here"})).content[0].text == "still here"

    anyio.run(main)


def test_newer_call_supersedes_the_running_one(server_path: str) -> None:
    async def main() -> None:
        async with stdio_client(params(server_path)) as (r, w):
            async with ClientSession(r, w) as session:
                await session.initialize()
                results: dict[str, Any] = {}
                async with anyio.create_task_group() as tg:
                    async def first() -> None:
                        results["first"] = await session.call_tool("slow", {"label": "first"})

                    tg.start_soon(first)
                    await wait_for_stats(session, "started", 1)
                    results["second"] = await session.call_tool("slow", {"label": "second", "ms": 0})

                first_result, second_result = results["first"], results["second"]
                assert first_result.is_error is True
                assert first_result.structured_content["cancelled"] is True
                assert first_result.structured_content["reason"] == "superseded"
                assert "cancelled" in first_result.content[0].text
                assert second_result.is_error is False
                assert second_result.content[0].text == "done second"
                assert second_result.structured_content == {"label": "second", "done": True}

    anyio.run(main)


# ---------------------------------------------------------------- raw pipes


class RawServer:
    """The server as a subprocess, spoken to line by line."""

    def __init__(self, server_path: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [server_path, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self._buf = b""
        self.lines: list[bytes] = []  # every stdout line, to check it is all JSON-RPC

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message).encode() + b"\n")

    def request(self, id_: Any, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def call(self, id_: Any, tool: str, args: dict[str, Any]) -> None:
        self.request(id_, "tools/call", {"name": tool, "arguments": args})

    def read(self) -> dict[str, Any] | None:
        """The next message, or None at EOF."""
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
        self.lines.append(line)
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0"
        return message

    def initialize(self, version: str = LATEST) -> dict[str, Any]:
        self.request("init", "initialize", {
            "protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}})
        response = self.read()
        assert response["id"] == "init"
        self.notify("notifications/initialized")
        return response

    def close(self) -> tuple[int, list[dict[str, Any]], str]:
        """Closes stdin; returns the exit code, the messages left, stderr."""
        self.proc.stdin.close()
        rest = []
        while (message := self.read()) is not None:
            rest.append(message)
        code = self.proc.wait(timeout=WAIT_S)
        stderr = self.proc.stderr.read().decode(errors="replace")
        return code, rest, stderr


@pytest.fixture
def raw(server_path: str):
    servers: list[RawServer] = []

    def start(*args: str) -> RawServer:
        servers.append(RawServer(server_path, *args))
        return servers[-1]

    yield start
    for s in servers:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def error_code(message: dict[str, Any]) -> int:
    return message["error"]["code"]


def test_raw_malformed_lines_get_errors_and_serving_goes_on(raw) -> None:
    s = raw("--max-bytes", "4096")
    s.initialize()
    cases: list[tuple[bytes, int, Any]] = [
        (b"{this is not json\n", -32700, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"ping"\n', -32700, None),      # truncated
        (b'{"jsonrpc":"2.0","id":2,"method":"p\xc3\x28"}\n', -32700, None),  # bad UTF-8
        (b'[{"jsonrpc":"2.0","id":3,"method":"ping"}]\n', -32600, None),   # batch
        (b"42\n", -32600, None),
        (b'{"id":4,"method":"ping"}\n', -32600, 4),                        # no "jsonrpc"
        (b'{"jsonrpc":"2.0","id":5,"method":7}\n', -32600, 5),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}\n', -32600, None),
        (b'{"jsonrpc":"2.0","id":6,"method":"resources/list"}\n', -32601, 6),
        (b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope"}}\n', -32602, 7),
        (b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":[1]}}\n', -32602, 8),
        (b'{"jsonrpc":"2.0","id":9,"method":"initialize","params":{}}\n', -32602, 9),
    ]
    for line, code, id_ in cases:
        s.send_raw(line)
        response = s.read()
        assert error_code(response) == code, line
        assert response["id"] == id_, line
        s.request("after", "ping")
        assert s.read() == {"jsonrpc": "2.0", "id": "after", "result": {}}, line

    # A 1 MB line against a 4 KiB limit: one error, the rest is skipped.
    big = json.dumps({"jsonrpc": "2.0", "id": 10, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"text": "x" * 1_000_000}}})
    s.send_raw(big.encode() + b"\n")
    response = s.read()
    assert error_code(response) == -32600
    assert response["error"]["data"]["maxBytes"] == 4096
    s.call(11, "echo", {"text": "small"})
    response = s.read()
    assert response["id"] == 11
    assert response["result"]["content"][0]["text"] == "small"

    # Notifications, even bad ones, are never answered.
    s.notify("notifications/whatever")
    s.send_raw(b'{"jsonrpc":"1.0","method":"notifications/x"}\n')
    s.notify("notifications/cancelled", {"requestId": 424242})
    s.request(12, "ping")
    assert s.read()["id"] == 12

    code, rest, stderr = s.close()
    assert code == 0
    assert rest == []
    assert "Parse error" in stderr  # logs went to stderr, stdout held only JSON-RPC
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in s.lines)


def test_raw_stray_stdout_writes_do_not_corrupt_the_stream(raw) -> None:
    # The server moves fd 1 to stderr before serving (ReserveStdoutForProtocol).
    s = raw()
    s.initialize()
    s.call(1, "print", {"text": "stray line"})
    assert s.read()["result"]["content"][0]["text"] == "printed"
    code, rest, stderr = s.close()
    assert code == 0
    assert rest == []
    assert "stray line (printf)" in stderr
    assert "stray line (cout)" in stderr


def test_raw_invalid_params_before_2025_11_25(raw) -> None:
    s = raw()
    assert s.initialize("2025-06-18")["result"]["protocolVersion"] == "2025-06-18"
    s.call(1, "typed", {"n": 99})
    response = s.read()
    assert error_code(response) == -32602
    assert response["error"]["data"]["problems"] == ["n: must be <= 10, got 99"]
    s.call(2, "echo", {"text": "hi"})
    assert s.read()["result"]["structuredContent"] == {"echo": "hi"}


def test_raw_unknown_version_gets_ours(raw) -> None:
    s = raw()
    assert s.initialize("1999-01-01")["result"]["protocolVersion"] == LATEST


def test_raw_cancelled_call_gets_no_response(raw) -> None:
    s = raw("--workers", "1")
    s.initialize()
    s.call(5, "slow", {"label": "doomed"})
    s.request(6, "ping")  # answered at once, even with the only worker busy
    assert s.read()["id"] == 6
    s.notify("notifications/cancelled", {"requestId": 5, "reason": "user pressed stop"})
    # One worker: the slow call is over before this one starts.
    s.call(7, "echo", {"text": "next"})
    assert s.read()["id"] == 7
    code, rest, _ = s.close()
    assert code == 0
    assert rest == []


def test_raw_eof_cancels_running_calls_and_exits_0(raw) -> None:
    s = raw("--eof-grace-ms", "0")
    s.initialize()
    s.call(1, "slow", {"label": "long"})
    code, rest, _ = s.close()
    assert code == 0
    assert len(rest) == 1
    assert rest[0]["id"] == 1
    assert rest[0]["result"]["isError"] is True
    assert rest[0]["result"]["structuredContent"] == {"cancelled": True, "reason": "shutdown"}


def test_raw_eof_waits_for_running_calls(raw) -> None:
    s = raw("--eof-grace-ms", "60000")
    s.initialize()
    s.call(1, "slow", {"label": "short", "ms": 50})
    code, rest, _ = s.close()
    assert code == 0
    assert [m["result"]["content"][0]["text"] for m in rest] == ["done short"]

"""An installed `rekall` (the wheel's, or a `cmake --install` prefix's) run
as a user runs it, away from the checkout: add, search by meaning, stats
saying where the model and sqlite-vec were found, and `rekall serve` driven
by the official MCP Python SDK client.

Run by scripts/wheel_test.sh with this environment:
    REKALL_BIN             the installed binary
    REKALL_EXPECT_MODEL_SOURCE, REKALL_EXPECT_VEC_SOURCE
                           the lookup rules that must have found the model and
                           sqlite-vec ("install prefix", "python package")
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

WAIT_S = 120.0
ENTRIES = [
    ("Nginx 504 after 60 s", "bug", "proxy_read_timeout defaults to 60s; raised it to 300s behind the load balancer"),
    ("Use ULIDs for entry ids", "decision", "Sortable by creation time, no coordination, 26 characters."),
]
QUERY = "request times out behind the reverse proxy"


@pytest.fixture(scope="session")
def rekall_bin() -> str:
    path = os.environ.get("REKALL_BIN", "")
    if not os.access(path, os.X_OK):
        pytest.fail("set REKALL_BIN to the installed rekall binary (got %r)" % path)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("REKALL_", "XDG_"))}
    e["HOME"] = str(tmp_path / "home")
    return e


def run(bin: str, env: dict[str, str], cwd: Path, *args: str) -> Any:
    p = subprocess.run([bin, "--json", *args], capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=WAIT_S, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"rekall {' '.join(args)}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout)


def test_add_then_search_by_meaning(rekall_bin: str, env: dict[str, str], tmp_path: Path) -> None:
    db = str(tmp_path / "kb" / "knowledge.db")
    (tmp_path / "kb").mkdir()
    for title, type_, content in ENTRIES:
        run(rekall_bin, env, tmp_path, "--db", db, "add", "--title", title, "--type", type_, "--content", content)
    got = run(rekall_bin, env, tmp_path, "--db", db, "search", "--mode", "semantic", QUERY)
    assert got["mode"] == "semantic"
    assert got["results"][0]["title"] == "Nginx 504 after 60 s"
    assert got["results"][0]["why"]["vector_rank"] == 1
    stats = run(rekall_bin, env, tmp_path, "--db", db, "stats")
    assert stats["model_source"] == os.environ.get("REKALL_EXPECT_MODEL_SOURCE"), stats
    assert stats["sqlite_vec_source"] == os.environ.get("REKALL_EXPECT_VEC_SOURCE"), stats
    assert "model_missing" not in stats and "sqlite_vec_missing" not in stats
    index = run(rekall_bin, env, tmp_path, "--db", db, "index", "status")
    assert index["backend"] == "sqlite-vec", index  # the extension loaded, not the fallback


def test_serve_through_the_mcp_sdk_client_as_mcp_config_says(rekall_bin: str, env: dict[str, str],
                                                              tmp_path: Path) -> None:
    db = str(tmp_path / "knowledge.db")
    for title, type_, content in ENTRIES:
        run(rekall_bin, env, tmp_path, "--db", db, "add", "--title", title, "--type", type_, "--content", content)
    # The server is started exactly as the snippet for an agent client says.
    snippet = run(rekall_bin, env, tmp_path, "--db", db, "mcp-config", "cursor")["mcpServers"]["rekall"]
    assert snippet["command"] == os.path.realpath(rekall_bin)
    assert snippet["args"] == ["--db", db, "serve"]
    params = StdioServerParameters(command=snippet["command"], args=snippet["args"], env=env, cwd="/")

    async def go() -> dict[str, Any]:
        with anyio.fail_after(WAIT_S):
            async with stdio_client(params) as (r, w), ClientSession(r, w) as session:
                await session.initialize()
                res = await session.call_tool("rekall_search", {"query": QUERY, "mode": "semantic"})
                assert not res.is_error, res
                return res.structured_content

    out = anyio.run(go)
    assert out["mode"] == "semantic", out
    assert out["results"][0]["title"] == "Nginx 504 after 60 s"

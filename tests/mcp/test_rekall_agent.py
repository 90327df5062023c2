"""An agent session scripted against Rekall's MCP server, run against ours.

The calls are Rekall's (tool names, argument names, required fields, full
ids), started as Rekall's config snippets start it (`rekall mcp-server`).
Each call must have Rekall's outcome or a better one: what Rekall does, we
do; where Rekall answers a bad call with plain text, we answer with an error
result (isError) or a JSON-RPC error. Then the file is read the way Rekall's
code reads it (its tables and columns): the links, the deprecation, the
structured context and its keywords, and the access counts are there. With
REKALL_PY_SOURCE pointing at a checkout of Rekall (its `rekall` package
imports with the standard library only), Rekall's own Database functions
read the file too.

    REKALL_BIN=build/rekall .venv-test/bin/pytest -q tests/mcp/test_rekall_agent.py
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import zlib
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from test_rekall_serve import SEED, Kb, rekall_bin  # noqa: F401 (fixture)


@pytest.fixture
def kb(rekall_bin: str, tmp_path: Path) -> Kb:  # noqa: F811
    return Kb(rekall_bin, tmp_path)


def rekall_server(kb: Kb, name: str) -> StdioServerParameters:
    return StdioServerParameters(command=kb.bin, args=kb.args(name), env=kb.env)


async def ok(session: ClientSession, tool: str, args: dict[str, Any]) -> Any:
    res = await session.call_tool(tool, args)
    assert res.is_error is False, (tool, args, res.content[0].text)
    return res


async def refused(session: ClientSession, tool: str, args: dict[str, Any]) -> str:
    """A call Rekall refuses (with text) is an error here: a result or a protocol error."""
    try:
        res = await session.call_tool(tool, args)
    except MCPError as e:
        return str(e)
    assert res.is_error is True, (tool, args, res.content[0].text)
    return res.content[0].text


async def session_as_rekalls_agent(session: ClientSession) -> dict[str, str]:
    await session.initialize()
    listed = (await session.list_tools()).tools
    tools = {t.name for t in listed}
    # Every tool says what it changes and what it returns; the SDK checks
    # each successful result below against its output schema.
    for t in listed:
        assert t.annotations is not None and t.annotations.read_only_hint is not None, t.name
        assert t.annotations.destructive_hint is not None and t.output_schema is not None, t.name
    by_name = {t.name: t for t in listed}
    assert by_name["rekall_delete"].annotations.destructive_hint is True
    assert by_name["rekall_search"].annotations.read_only_hint is True
    assert [t.name for t in listed if t.name != "rekall_update"] == [  # Rekall's 17, in its order
        "rekall_help", "rekall_search", "rekall_show", "rekall_add", "rekall_link", "rekall_suggest",
        "rekall_get_context", "rekall_unlink", "rekall_related", "rekall_similar", "rekall_sources_suggest",
        "rekall_info", "rekall_stale", "rekall_generalize", "rekall_sources_verify", "rekall_deprecate",
        "rekall_delete"]

    assert "rekall_search" in (await ok(session, "rekall_help", {})).content[0].text
    await ok(session, "rekall_help", {"topic": "links"})
    await refused(session, "rekall_help", {"topic": "everything"})

    ids = {}
    for e in SEED:
        res = await ok(session, "rekall_add", {**e, "context": {"situation": "while deploying " + e["title"],
                                                                  "solution": e["content"]}})
        ids[e["title"]] = res.structured_content["id"]
    nginx, pool, react = (ids[SEED[i]["title"]] for i in range(3))
    res = await ok(session, "rekall_add", {
        "type": "config", "title": "Gunicorn worker timeout", "content": "--timeout 300",
        "context": {"situation": "uploads cut at 30 s", "solution": "raise the worker timeout",
                    "trigger_keywords": ["Gunicorn", "timeout"], "what_failed": "nginx alone"}})
    ids["gunicorn"] = res.structured_content["id"]
    await refused(session, "rekall_add", {"type": "essay", "title": "x", "context": {}})
    await refused(session, "rekall_add", {"title": "no type"})

    res = await ok(session, "rekall_search", {"query": "nginx gateway", "limit": 3})
    assert res.structured_content["results"][0]["id"] == nginx
    await refused(session, "rekall_search", {})
    await refused(session, "rekall_search", {"query": "x", "limit": "5"})
    show = await ok(session, "rekall_show", {"id": nginx})
    assert show.structured_content["title"] == SEED[0]["title"]
    await refused(session, "rekall_show", {"id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"})

    res = await ok(session, "rekall_link", {"source_id": react, "target_id": nginx, "reason": "both front"})
    assert "→ [related] →" in res.content[0].text
    await ok(session, "rekall_link", {"source_id": pool, "target_id": react, "relation_type": "contradicts",
                                      "reason": "test"})
    await refused(session, "rekall_link", {"source_id": react, "target_id": nginx, "reason": "again"})
    await refused(session, "rekall_link", {"source_id": nginx, "target_id": nginx, "reason": "self"})
    await refused(session, "rekall_link", {"source_id": nginx, "target_id": pool, "relation_type": "foo",
                                           "reason": "r"})
    await refused(session, "rekall_link", {"source_id": nginx, "target_id": pool})  # reason is required

    rel = await ok(session, "rekall_related", {"entry_id": nginx})
    assert [r["id"] for r in rel.structured_content["related"]] == [react]
    assert rel.structured_content["related"][0]["direction"] == "incoming"
    rel = await ok(session, "rekall_related", {"entry_id": nginx, "depth": 2})
    assert [r["id"] for r in rel.structured_content["related"]] == [react, pool]
    await refused(session, "rekall_related", {"entry_id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"})

    sim = await ok(session, "rekall_similar", {"entry_id": nginx, "limit": 2})
    assert nginx not in [r["id"] for r in sim.structured_content["results"]]
    info = await ok(session, "rekall_info", {})
    assert info.structured_content["entries"] == len(SEED) + 1
    stale = await ok(session, "rekall_stale", {})
    await refused(session, "rekall_stale", {"days": "ninety"})
    assert stale.structured_content["count"] == 0  # everything was read just now

    ctx = await ok(session, "rekall_get_context", {"entry_ids": [ids["gunicorn"], react]})
    assert ctx.structured_content["contexts"][0]["context"].startswith("Situation: uploads cut at 30 s")
    await refused(session, "rekall_get_context", {"entry_ids": []})
    await refused(session, "rekall_get_context", {})
    sug = await ok(session, "rekall_suggest", {})
    assert "pending" in sug.structured_content and "clusters" in sug.structured_content
    await refused(session, "rekall_suggest", {"type": "merge"})
    gen = await ok(session, "rekall_generalize", {"entry_ids": [nginx, react], "title": "Timeouts at the edge"})
    assert gen.structured_content["title"] == "Timeouts at the edge"
    assert "derived_from" in gen.content[0].text
    await refused(session, "rekall_generalize", {"entry_ids": [nginx]})
    await refused(session, "rekall_generalize", {"entry_ids": [nginx, react], "type": "bug"})
    src = await ok(session, "rekall_sources_suggest", {"entry_id": nginx})
    assert src.structured_content["count"] == 0 and "No sources found" in src.content[0].text
    await refused(session, "rekall_sources_suggest", {"entry_id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"})
    ver = await ok(session, "rekall_sources_verify", {})
    assert ver.structured_content["count"] == 0

    res = await ok(session, "rekall_unlink", {"source_id": nginx, "target_id": react})
    assert res.structured_content["removed"] == 0  # direction matters, as in Rekall

    await ok(session, "rekall_deprecate", {"id": pool, "replaced_by": nginx, "reason": "merged"})
    res = await ok(session, "rekall_search", {"query": "connection pool exhausted", "limit": 10})
    assert pool not in [r["id"] for r in res.structured_content["results"]]
    await refused(session, "rekall_deprecate", {"id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"})

    await refused(session, "rekall_delete", {"id": react})
    await refused(session, "rekall_delete", {"id": react, "confirm": False})
    await ok(session, "rekall_delete", {"id": ids[SEED[4]["title"]], "confirm": True})
    await refused(session, "rekall_delete", {"id": ids[SEED[4]["title"]], "confirm": True})
    return {"nginx": nginx, "pool": pool, "react": react, "gunicorn": ids["gunicorn"]}


@pytest.mark.parametrize("name", ["mcp-server", "mcp"])
def test_rekalls_agent_session_and_rekall_reads_the_file(kb: Kb, name: str) -> None:
    async def main() -> dict[str, str]:
        async with stdio_client(rekall_server(kb, name)) as (r, w):
            async with ClientSession(r, w) as session:
                return await session_as_rekalls_agent(session)

    ids = anyio.run(main)
    con = sqlite3.connect(kb.db)  # as Rekall's Database reads it
    try:
        text, blob = con.execute("SELECT context_structured, context_blob FROM entries WHERE id = ?",
                                 (ids["gunicorn"],)).fetchone()
        ctx = json.loads(text)
        assert json.dumps(ctx) == text  # Python's own layout
        assert list(ctx)[:3] == ["situation", "solution", "trigger_keywords"]
        assert ctx["trigger_keywords"] == ["gunicorn", "timeout"] and ctx["extraction_method"] == "manual"
        assert zlib.decompress(blob).decode() == text
        assert con.execute("SELECT keyword FROM context_keywords WHERE entry_id = ? ORDER BY keyword",
                           (ids["gunicorn"],)).fetchall() == [("gunicorn",), ("timeout",)]
        links = con.execute("SELECT source_id, target_id, relation_type, reason FROM links "
                            "WHERE relation_type != 'derived_from' ORDER BY created_at").fetchall()
        assert links == [(ids["react"], ids["nginx"], "related", "both front"),
                         (ids["pool"], ids["react"], "contradicts", "test")]
        status = con.execute("SELECT status, superseded_by FROM entries WHERE id = ?", (ids["pool"],)).fetchone()
        assert status == ("obsolete", ids["nginx"])
        derived = con.execute("SELECT COUNT(*) FROM links WHERE relation_type = 'derived_from' AND reason = "
                              "'Generalized from 2 entries'").fetchone()[0]
        assert derived == 2  # rekall_generalize's links
        count, last = con.execute("SELECT access_count, last_accessed FROM entries WHERE id = ?",
                                  (ids["nginx"],)).fetchone()
        assert count >= 2 and last  # the search and the show
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()


def test_rekalls_own_code_reads_the_file(kb: Kb) -> None:
    source = os.environ.get("REKALL_PY_SOURCE")
    if not source:
        pytest.skip("set REKALL_PY_SOURCE to a checkout of Rekall to read the file with its own code")

    async def main() -> dict[str, str]:
        async with stdio_client(rekall_server(kb, "mcp-server")) as (r, w):
            async with ClientSession(r, w) as session:
                return await session_as_rekalls_agent(session)

    ids = anyio.run(main)
    sys.path.insert(0, source)
    from rekall.db import Database  # noqa: E402 (Rekall's own reader)

    db = Database(Path(kb.db))
    db.init()
    try:
        ctx = db.get_structured_context(ids["gunicorn"])
        assert ctx.situation == "uploads cut at 30 s" and ctx.trigger_keywords == ["gunicorn", "timeout"]
        assert db.get_context(ids["gunicorn"]).startswith("Situation: uploads cut at 30 s")
        assert [e.id for e in db.search_by_keywords(["gunicorn"])] == [ids["gunicorn"]]
        links = [l for l in db.get_links(ids["react"]) if l.relation_type != "derived_from"]
        assert {(l.source_id, l.target_id, l.relation_type) for l in links} == {
            (ids["react"], ids["nginx"], "related"), (ids["pool"], ids["react"], "contradicts")}
        pool = db.get(ids["pool"], update_access=False)
        assert pool.status == "obsolete" and pool.superseded_by == ids["nginx"]
        nginx = db.get(ids["nginx"], update_access=False)
        assert nginx.access_count >= 2 and nginx.last_accessed is not None
        assert ids["pool"] not in [e.id for e in db.search("pool")]  # Rekall hides it too
        assert db.get_stale_entries(days=1) == []
    finally:
        db.close()

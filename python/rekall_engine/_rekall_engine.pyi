"""Type hints of the compiled module; rekall_engine re-exports all of it."""

from types import TracebackType
from typing import Any, Literal, Optional, Sequence

import numpy
import numpy.typing

__version__: str

class Entry:
    """One stored entry, as `rekall show --json` prints it."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def project(self) -> Optional[str]: ...
    @property
    def confidence(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def superseded_by(self) -> Optional[str]: ...
    @property
    def created_at(self) -> str: ...
    @property
    def updated_at(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...

class SearchResult:
    """One search hit and why it matched."""

    @property
    def entry(self) -> Entry: ...
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def score(self) -> float:
        """Cosine (semantic), -bm25 (keyword) or the RRF sum (hybrid)."""
    @property
    def vector_rank(self) -> Optional[int]:
        """1-based rank among the nearest vectors; None if not among them."""
    @property
    def keyword_rank(self) -> Optional[int]:
        """1-based rank among the keyword matches; None if not among them."""
    @property
    def cosine(self) -> Optional[float]: ...
    @property
    def bm25(self) -> Optional[float]: ...

class KnowledgeBase:
    """An open knowledge base (one SQLite file). Close it, or use `with`."""

    @property
    def path(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def add(
        self,
        title: str,
        type: Literal["bug", "pattern", "decision", "pitfall", "config", "reference"],
        content: str = "",
        *,
        project: Optional[str] = None,
        tags: Sequence[str] = ...,
        confidence: int = 2,
        status: Literal["active", "obsolete"] = "active",
        superseded_by: Optional[str] = None,
    ) -> Entry:
        """Adds an entry with its embedding and returns it (with its new id)."""
    def get(self, id: str) -> Entry:
        """The entry with this id; NotFoundError if there is none."""
    def search(
        self,
        query: str,
        mode: Literal["semantic", "keyword", "hybrid"] = "hybrid",
        limit: int = 10,
        *,
        type: Optional[str] = None,
        project: Optional[str] = None,
        tags: Sequence[str] = ...,
        status: Optional[str] = None,
        min_score: Optional[float] = None,
        include_obsolete: bool = False,
    ) -> list[SearchResult]:
        """Searches by meaning (semantic), words (keyword) or both (hybrid); obsolete entries only on request."""
    def similar(self, id: str, limit: int = 5, *, include_obsolete: bool = False) -> list[SearchResult]:
        """Entries nearest in meaning to entry `id` (obsolete ones only with include_obsolete)."""
    def delete(self, id: str) -> None:
        """Deletes an entry; NotFoundError if there is none."""
    def embed(self, texts: Sequence[str]) -> numpy.typing.NDArray[numpy.float32]:
        """Embeddings of `texts`: shape (len(texts), 384), unit rows."""
    def stats(self) -> dict[str, Any]:
        """Entries, embeddings, backend, caches, model state, resource paths."""
    def close(self) -> None: ...
    def __enter__(self) -> KnowledgeBase: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...

def open(
    path: Optional[str] = None,
    *,
    config: Optional[str] = None,
    model_path: Optional[str] = None,
    sqlite_vec_path: Optional[str] = None,
    backend: Optional[Literal["auto", "sqlite-vec", "brute"]] = None,
    read_only: bool = False,
) -> KnowledgeBase:
    """Opens (or creates) a knowledge base, found as the rekall CLI finds it."""

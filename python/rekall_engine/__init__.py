"""rekall_engine: the rekall knowledge base (C++ engine) from Python.

    import rekall_engine
    with rekall_engine.open() as kb:          # the database the CLI uses
        e = kb.add("Nginx 504 after 60 s", "bug", "proxy_read_timeout defaults to 60s")
        for hit in kb.search("request times out behind the reverse proxy"):
            print(hit.score, hit.title, hit.vector_rank, hit.keyword_rank)

The `rekall` command installed with this package is the same engine as a
native binary (no Python at run time).
"""

from ._rekall_engine import Entry, KnowledgeBase, SearchResult, __version__, open
from . import errors
from .errors import (
    BusyError,
    CancelledError,
    CorruptionError,
    InvalidArgumentError,
    NotFoundError,
    RekallError,
    RekallWarning,
    StorageError,
    UnavailableError,
)

__all__ = ["open", "KnowledgeBase", "Entry", "SearchResult", *errors.__all__, "__version__"]

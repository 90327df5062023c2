// rekall_engine._rekall_engine: the Python module, a thin binding over the
// same Engine the CLI and the server use (no logic of its own beyond turning
// arguments into engine requests). Why each choice:
//   - errors are the exceptions of rekall_engine/errors.py, one per Status
//     code, carrying the engine's message unchanged (the CLI prints the same);
//   - notices (keyword fallback, stored without an embedding) are warnings of
//     class RekallWarning: the call succeeded, the user should still know;
//   - the GIL is released while the engine works (embedding, search, writes),
//     so other Python threads run; a call in flight keeps the engine alive
//     even if another thread closes the knowledge base.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <unistd.h>

#include "config/config.h"
#include "engine/engine.h"
#include "store/entry.h"
#include "util/our_embeddings.h"
#include "util/version.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace rekall::python {
namespace {

nb::object ErrorsModule() { return nb::module_::import_("rekall_engine.errors"); }

const char* ErrorClass(Code c) {
  switch (c) {
    case Code::kNotFound: return "NotFoundError";
    case Code::kInvalidArgument: return "InvalidArgumentError";
    case Code::kIOError: return "StorageError";
    case Code::kCorruption: return "CorruptionError";
    case Code::kUnavailable: return "UnavailableError";
    case Code::kCancelled: return "CancelledError";
    case Code::kBusy: return "BusyError";
    default: return "RekallError";
  }
}

// Raises the exception for a failed Status; needs the GIL.
void Check(const Status& s) {
  if (s.ok()) return;
  nb::object cls = ErrorsModule().attr(ErrorClass(s.code()));
  PyErr_SetString(cls.ptr(), s.message().c_str());
  throw nb::python_error();
}

void Warn(const std::string& notice) {
  if (notice.empty()) return;
  nb::object cls = ErrorsModule().attr("RekallWarning");
  if (PyErr_WarnEx(cls.ptr(), notice.c_str(), 2) != 0) throw nb::python_error();
}

// The configuration as the CLI reads it, with the keyword arguments of
// open() in place of its options.
config::Config LoadConfig(const std::optional<std::string>& config_path, const std::optional<std::string>& model_path,
                          const std::optional<std::string>& sqlite_vec_path, const std::optional<std::string>& backend) {
  config::Config c;
  std::string path = config_path ? config::ExpandHome(*config_path) : config::DefaultConfigPath();
  if (config_path && ::access(path.c_str(), R_OK) != 0)
    Check(Status::NotFound("config file " + path + " does not exist or is not readable"));
  std::vector<std::string> warnings;
  Check(config::Load(path, &c, &warnings));
  for (const auto& w : warnings) Warn("warning: " + w);
  // Origin kDefault with a path: "set in code", so messages name the keyword
  // argument (model_path) rather than the CLI's --model-path.
  if (model_path) {
    c.model_path = config::ExpandHome(*model_path);
    c.model_path_origin = config::Origin::kDefault;
  }
  if (sqlite_vec_path) {
    c.sqlite_vec_path = config::ExpandHome(*sqlite_vec_path);
    c.sqlite_vec_path_origin = config::Origin::kDefault;
  }
  if (backend) c.vector_backend = *backend;
  Status s = config::Validate(c);
  if (!s.ok()) Check(Status::InvalidArgument(s.message()));
  return c;
}

std::vector<SearchResult> CheckedResults(const Status& s, std::vector<SearchResult>* r, const std::string& notice) {
  Check(s);
  Warn(notice);
  return std::move(*r);
}

class KnowledgeBase {
 public:
  KnowledgeBase(std::shared_ptr<Engine> e, std::string path) : engine_(std::move(e)), path_(std::move(path)) {}

  static KnowledgeBase Open(const std::optional<std::string>& path, const std::optional<std::string>& config_path,
                            const std::optional<std::string>& model_path,
                            const std::optional<std::string>& sqlite_vec_path, const std::optional<std::string>& backend,
                            bool read_only) {
    EngineOptions o;
    o.cfg = LoadConfig(config_path, model_path, sqlite_vec_path, backend);
    config::DbLocation loc = config::ResolveDbPath(path.value_or(""), o.cfg);
    o.db_path = loc.path;
    o.create_parent_dirs = loc.default_location;
    o.read_only = read_only;
    std::unique_ptr<Engine> e;
    Status s;
    {
      nb::gil_scoped_release unlocked;
      s = Engine::Open(std::move(o), &e);
    }
    Check(s);
    const store::SchemaInfo& sc = e->schema();
    if (sc.migrated)
      Warn("migrated " + loc.path + " (Rekall schema " + std::to_string(sc.user_version) + ", kept as is); backup at " +
           sc.backup_path);
    return KnowledgeBase(std::shared_ptr<Engine>(std::move(e)), loc.path);
  }

  store::Entry Add(const std::string& title, const std::string& type, const std::string& content,
                   const std::optional<std::string>& project, const std::vector<std::string>& tags, int confidence,
                   const std::string& status, const std::optional<std::string>& superseded_by) {
    store::Entry e;
    e.title = title;
    e.type = type;
    e.content = content;
    e.project = project;
    e.tags = tags;
    e.confidence = confidence;
    e.status = status;
    e.superseded_by = superseded_by;
    std::string notice;
    Status s = Unlocked([&](Engine* eng) { return eng->Add(&e, &notice); });
    Check(s);
    Warn(notice);
    return e;
  }

  store::Entry Get(const std::string& id) {
    store::Entry e;
    Check(Unlocked([&](Engine* eng) { return eng->Get(id, &e); }));
    return e;
  }

  std::vector<SearchResult> Search(const std::string& query, const std::string& mode, int limit,
                                   const std::optional<std::string>& type, const std::optional<std::string>& project,
                                   const std::vector<std::string>& tags, const std::optional<std::string>& status,
                                   std::optional<double> min_score, bool include_obsolete) {
    SearchRequest req;
    req.query = query;
    Check(ParseSearchMode(mode, &req.mode));
    if (type && !store::IsEntryType(*type)) Check(Status::InvalidArgument("invalid type '" + *type + "'"));
    req.limit = limit;
    req.filter.type = type;
    req.filter.project = project;
    req.filter.tags = tags;
    req.filter.status = status;
    req.filter.include_obsolete = include_obsolete;
    req.min_score = min_score;
    SearchResponse resp;
    Status s = Unlocked([&](Engine* eng) { return eng->Search(req, &resp); });
    return CheckedResults(s, &resp.results, resp.notice);
  }

  std::vector<SearchResult> Similar(const std::string& id, int limit, bool include_obsolete) {
    std::vector<SearchResult> out;
    std::string notice;
    store::ListFilter f;
    f.include_obsolete = include_obsolete;
    Status s = Unlocked([&](Engine* eng) { return eng->Similar(id, limit, f, &out, &notice); });
    return CheckedResults(s, &out, notice);
  }

  void Delete(const std::string& id) {
    Check(Unlocked([&](Engine* eng) { return eng->Delete(id); }));
  }

  nb::ndarray<nb::numpy, float, nb::ndim<2>> Embed(const std::vector<std::string>& texts) {
    auto vecs = std::make_unique<std::vector<float>>();
    Check(Unlocked([&](Engine* eng) { return texts.empty() ? Status::OK() : eng->Embed(texts, vecs.get()); }));
    size_t n = texts.size();
    size_t dim = n ? vecs->size() / n : static_cast<size_t>(kOurDim);
    float* data = vecs->data();
    nb::capsule owner(vecs.release(), [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
    return nb::ndarray<nb::numpy, float, nb::ndim<2>>(data, {n, dim}, owner);
  }

  nb::dict Stats() {
    EngineStats st;
    Check(Unlocked([&](Engine* eng) { return eng->Stats(&st); }));
    return nb::cast<nb::dict>(nb::module_::import_("json").attr("loads")(EngineStatsToJson(st).dump()));
  }

  void Close() { engine_.reset(); }
  const std::string& path() const { return path_; }
  bool closed() const { return !engine_; }

 private:
  // Runs fn on the engine without the GIL; the copy of the pointer keeps the
  // engine alive if another thread closes the knowledge base meanwhile.
  template <typename Fn>
  Status Unlocked(Fn fn) {
    std::shared_ptr<Engine> eng = engine_;
    if (!eng) return Status::InvalidArgument("the knowledge base " + path_ + " is closed");
    nb::gil_scoped_release unlocked;
    return fn(eng.get());
  }

  std::shared_ptr<Engine> engine_;
  std::string path_;
};

std::optional<int> Rank(int r) { return r ? std::optional<int>(r) : std::nullopt; }

std::string EntryRepr(const store::Entry& e) { return "Entry(id='" + e.id + "', type='" + e.type + "', title='" + e.title + "')"; }

void BindEntry(nb::module_& m) {
  nb::class_<store::Entry>(m, "Entry", "One stored entry, as `rekall show --json` prints it.")
      .def_ro("id", &store::Entry::id, "ULID of the entry.")
      .def_ro("title", &store::Entry::title)
      .def_ro("content", &store::Entry::content)
      .def_ro("type", &store::Entry::type, "bug, pattern, decision, pitfall, config or reference.")
      .def_ro("project", &store::Entry::project)
      .def_ro("confidence", &store::Entry::confidence, "0 to 5.")
      .def_ro("status", &store::Entry::status, "active or obsolete.")
      .def_ro("superseded_by", &store::Entry::superseded_by)
      .def_ro("created_at", &store::Entry::created_at)
      .def_ro("updated_at", &store::Entry::updated_at)
      .def_ro("tags", &store::Entry::tags, "Sorted, unique.")
      .def("__repr__", &EntryRepr);
}

void BindSearchResult(nb::module_& m) {
  nb::class_<SearchResult>(m, "SearchResult",
                           "One search hit and why it matched: its rank in the vector and keyword rankings "
                           "and the raw cosine / bm25 behind them.")
      .def_ro("entry", &SearchResult::entry)
      .def_prop_ro("id", [](const SearchResult& r) { return r.entry.id; })
      .def_prop_ro("title", [](const SearchResult& r) { return r.entry.title; })
      .def_ro("score", &SearchResult::score, "Cosine (semantic), -bm25 (keyword) or the RRF sum (hybrid).")
      .def_prop_ro("vector_rank", [](const SearchResult& r) { return Rank(r.vector_rank); },
                   "1-based rank among the nearest vectors; None if not among them.")
      .def_prop_ro("keyword_rank", [](const SearchResult& r) { return Rank(r.keyword_rank); },
                   "1-based rank among the keyword matches; None if not among them.")
      .def_ro("cosine", &SearchResult::cosine)
      .def_ro("bm25", &SearchResult::bm25, "FTS5's bm25 (lower is better).")
      .def("__repr__", [](const SearchResult& r) {
        return "SearchResult(score=" + std::to_string(r.score) + ", " + EntryRepr(r.entry) + ")";
      });
}

}  // namespace
}  // namespace rekall::python

NB_MODULE(_rekall_engine, m) {
  using rekall::python::KnowledgeBase;
  m.doc() = "The rekall engine (C++), bound for Python. Use rekall_engine.open().";
  m.attr("__version__") = rekall::kVersion;
  rekall::python::BindEntry(m);
  rekall::python::BindSearchResult(m);
  nb::class_<KnowledgeBase>(m, "KnowledgeBase", "An open knowledge base (one SQLite file). Close it, or use `with`.")
      .def_prop_ro("path", &KnowledgeBase::path, "The database file.")
      .def_prop_ro("closed", &KnowledgeBase::closed)
      .def("add", &KnowledgeBase::Add, "title"_a, "type"_a, "content"_a = "", nb::kw_only(),
           "project"_a = nb::none(), "tags"_a = std::vector<std::string>(), "confidence"_a = 2, "status"_a = "active",
           "superseded_by"_a = nb::none(), "Adds an entry with its embedding and returns it (with its new id).")
      .def("get", &KnowledgeBase::Get, "id"_a, "The entry with this id; NotFoundError if there is none.")
      .def("search", &KnowledgeBase::Search, "query"_a, "mode"_a = rekall::SearchModeName(rekall::kDefaultSearchMode), "limit"_a = 10, nb::kw_only(),
           "type"_a = nb::none(), "project"_a = nb::none(), "tags"_a = std::vector<std::string>(),
           "status"_a = nb::none(), "min_score"_a = nb::none(), "include_obsolete"_a = false,
           "Searches by meaning (semantic), words (keyword) or both (hybrid, the default: it ranks best on BEIR "
           "SciFact, bench/quality). Filters apply inside the search; every tag given must be present; obsolete "
           "entries only with a status or include_obsolete. Without the model, semantic search answers with keyword results "
           "and a RekallWarning says what is missing.")
      .def("similar", &KnowledgeBase::Similar, "id"_a, "limit"_a = 5, nb::kw_only(), "include_obsolete"_a = false,
           "Entries nearest in meaning to entry `id` (obsolete ones only with include_obsolete).")
      .def("delete", &KnowledgeBase::Delete, "id"_a, "Deletes an entry; NotFoundError if there is none.")
      .def("embed", &KnowledgeBase::Embed, "texts"_a,
           "The all-MiniLM-L6-v2 embeddings of `texts`: a float32 array of shape (len(texts), 384), unit rows.")
      .def("stats", &KnowledgeBase::Stats,
           "Entries, embeddings, backend, caches, model state, and where the model and sqlite-vec were found.")
      .def("close", &KnowledgeBase::Close, "Closes the database; later calls raise InvalidArgumentError.")
      .def("__enter__", [](KnowledgeBase& kb) -> KnowledgeBase& { return kb; }, nb::rv_policy::reference)
      .def("__exit__", [](KnowledgeBase& kb, nb::args) { kb.Close(); });
  m.def("open", &KnowledgeBase::Open, "path"_a = nb::none(), nb::kw_only(), "config"_a = nb::none(),
        "model_path"_a = nb::none(), "sqlite_vec_path"_a = nb::none(), "backend"_a = nb::none(),
        "read_only"_a = false,
        "Opens (or creates) a knowledge base. Without `path`, the database is found as the rekall CLI finds "
        "it: REKALL_HOME, REKALL_DB_PATH, ./.rekall, data_dir of the config file, then "
        "~/.local/share/rekall/knowledge.db. The other arguments are the CLI's --config, --model-path, "
        "--sqlite-vec-path and --backend.");
}

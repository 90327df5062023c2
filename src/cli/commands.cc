#include "cli/commands.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "engine/engine.h"
#include "store/entry.h"
#include "store/migrate.h"
#include "store/store.h"
#include "server/mcp_server.h"
#include "server/process.h"
#include "server/rekall_handler.h"
#include "server/rekall_tools.h"
#include "util/version.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

struct Globals {
  std::string db;
  std::string config_path;
  bool json = false;
  bool quiet = false;
  std::string backend;
  std::string model_path;
  std::string sqlite_vec_path;
  long threads = -1;
};

int ExitCode(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return 0;
    case Code::kInvalidArgument: return 2;
    case Code::kNotFound: return 3;
    case Code::kCancelled: return 130;
    default: return 1;
  }
}

int Fail(const Globals& g, const Status& s) {
  std::cerr << "rekall: " << s.message() << std::endl;
  if (g.json) {
    json j = {{"error", {{"code", CodeName(s.code())}, {"message", s.message()}}}};
    std::cout << j.dump() << std::endl;
  }
  return ExitCode(s);
}

void Notice(const Globals& g, const std::string& n) {
  if (!n.empty() && !g.quiet) std::cerr << "rekall: " << n << std::endl;
}

Status LoadConfig(const Globals& g, config::Config* c) {
  std::vector<std::string> warnings;
  std::string path = g.config_path.empty() ? config::DefaultConfigPath() : g.config_path;
  if (!g.config_path.empty() && ::access(path.c_str(), R_OK) != 0)
    return Status::NotFound("config file " + path + " does not exist or is not readable");
  Status s = config::Load(path, c, &warnings);
  if (!s.ok()) return s;
  for (const auto& w : warnings) std::cerr << "rekall: warning: " << w << std::endl;
  if (!g.backend.empty()) c->vector_backend = g.backend;
  if (!g.model_path.empty()) c->model_path = g.model_path;
  if (!g.sqlite_vec_path.empty()) c->sqlite_vec_path = g.sqlite_vec_path;
  if (g.threads >= 0) c->threads = g.threads;
  s = config::Validate(*c);
  if (!s.ok()) return Status::InvalidArgument("command line: " + s.message());
  return Status::OK();
}

Status OpenEngine(const Globals& g, std::unique_ptr<Engine>* out, bool read_only = false) {
  EngineOptions o;
  Status s = LoadConfig(g, &o.cfg);
  if (!s.ok()) return s;
  config::DbLocation loc = config::ResolveDbPath(g.db, o.cfg);
  o.db_path = loc.path;
  o.create_parent_dirs = loc.default_location;
  o.read_only = read_only;
  s = Engine::Open(std::move(o), out);
  if (s.ok() && (*out)->store()->schema().migrated && !g.quiet) {
    const auto& sc = (*out)->store()->schema();
    std::cerr << "rekall: migrated " << loc.path << " (Rekall schema " << sc.user_version
              << ", kept as is); backup at " << sc.backup_path << std::endl;
  }
  return s;
}

std::string ReadAll(std::istream& in) {
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitTags(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& t : in) {
    std::stringstream ss(t);
    std::string part;
    while (std::getline(ss, part, ',')) out.push_back(part);
  }
  return out;
}

std::string OneLine(const store::Entry& e) {
  std::string s = e.id + "  [" + e.type + "] " + e.title;
  std::string meta;
  if (e.project) meta += *e.project + ", ";
  meta += "confidence " + std::to_string(e.confidence);
  if (e.status != "active") meta += ", " + e.status;
  s += "  (" + meta + ")";
  return s;
}

void PrintEntry(const store::Entry& e) {
  std::cout << e.title << "\n"
            << "  id:         " << e.id << "\n"
            << "  type:       " << e.type << "\n"
            << "  project:    " << e.project.value_or("-") << "\n"
            << "  confidence: " << e.confidence << "\n"
            << "  status:     " << e.status << "\n";
  if (e.superseded_by) std::cout << "  superseded by: " << *e.superseded_by << "\n";
  std::cout << "  tags:       ";
  for (size_t i = 0; i < e.tags.size(); ++i) std::cout << (i ? ", " : "") << e.tags[i];
  std::cout << "\n  created:    " << e.created_at << "\n  updated:    " << e.updated_at << "\n\n"
            << e.content << std::endl;
}

json ResultJson(const SearchResult& r) {
  json j = store::EntryToJson(r.entry);
  j.erase("extra");
  j["score"] = r.score;
  json why = json::object();
  if (r.vector_rank) why["vector_rank"] = r.vector_rank;
  if (r.keyword_rank) why["keyword_rank"] = r.keyword_rank;
  if (r.cosine) why["cosine"] = *r.cosine;
  if (r.bm25) why["bm25"] = *r.bm25;
  j["why"] = why;
  return j;
}

std::string WhyText(const SearchResult& r) {
  std::ostringstream s;
  s.precision(3);
  std::string sep;
  if (r.vector_rank) {
    s << "vector #" << r.vector_rank;
    if (r.cosine) s << " (cosine " << std::fixed << *r.cosine << ")";
    sep = ", ";
  }
  if (r.keyword_rank) {
    s << sep << "keyword #" << r.keyword_rank;
    if (r.bm25) s << " (bm25 " << std::fixed << *r.bm25 << ")";
  }
  return s.str();
}

void PrintResults(const Globals& g, const std::vector<SearchResult>& rs, const json& extra) {
  if (g.json) {
    json j = extra;
    j["results"] = json::array();
    for (const auto& r : rs) j["results"].push_back(ResultJson(r));
    std::cout << j.dump() << std::endl;
    return;
  }
  if (rs.empty()) {
    std::cout << "no results" << std::endl;
    return;
  }
  int i = 0;
  for (const auto& r : rs) {
    char score[32];
    std::snprintf(score, sizeof score, "%.4f", r.score);
    std::cout << ++i << ". " << score << "  " << OneLine(r.entry) << "\n     why: " << WhyText(r) << "\n";
  }
  std::cout.flush();
}

// Fields a user can set through options, shared by add and edit.
struct EntryOptions {
  std::string title, content, type, project, status, superseded_by;
  int confidence = -1;
  std::vector<std::string> tags;
  bool stdin_json = false;
  void Register(CLI::App* c, bool edit) {
    c->add_option("--title,-t", title, "Title");
    c->add_option("--content,-c", content, "Content (use - to read it from stdin)");
    c->add_option("--type", type, "bug, pattern, decision, pitfall, config or reference");
    c->add_option("--project,-p", project, "Project name (empty string clears it)");
    c->add_option("--confidence", confidence, "0 to 5");
    c->add_option("--tag,--tags", tags, edit ? "Replace the tags (repeat, or comma-separated)"
                                             : "Tag (repeat, or comma-separated)");
    c->add_option("--status", status, "active or obsolete");
    c->add_option("--superseded-by", superseded_by, "Id of the entry that replaces this one");
    c->add_flag("--stdin", stdin_json, "Read the entry as a JSON object on stdin");
  }
  // Applies the options that were given to e.
  Status Apply(CLI::App* c, store::Entry* e) {
    if (c->count("--title")) e->title = title;
    if (c->count("--content")) {
      if (content == "-") {
        e->content = ReadAll(std::cin);
      } else {
        e->content = content;
      }
    }
    if (c->count("--type")) e->type = type;
    if (c->count("--project")) e->project = project.empty() ? std::nullopt : std::optional<std::string>(project);
    if (c->count("--confidence")) e->confidence = confidence;
    if (c->count("--tag")) e->tags = SplitTags(tags);
    if (c->count("--status")) e->status = status;
    if (c->count("--superseded-by"))
      e->superseded_by = superseded_by.empty() ? std::nullopt : std::optional<std::string>(superseded_by);
    return Status::OK();
  }
};

Status ReadJsonEntry(store::Entry* e) {
  std::string text = ReadAll(std::cin);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& err) {
    return Status::InvalidArgument(std::string("malformed JSON on stdin: ") + err.what());
  }
  return store::EntryFromJson(j, e);
}

}  // namespace

int Run(int argc, char** argv) {
  CLI::App app{"rekall: a local-first semantic memory for developers. Keep what you learned (bugs, patterns, "
               "decisions) and find it again by meaning, offline."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rekall ") + kVersion);
  Globals g;
  app.add_option("--db", g.db, "Database file (default: as Rekall finds it: REKALL_HOME, REKALL_DB_PATH, "
                               "./.rekall, config data_dir, ~/.local/share/rekall/knowledge.db)");
  app.add_option("--config", g.config_path, "Config file (default: $XDG_CONFIG_HOME/rekall/config.toml)");
  app.add_flag("--json", g.json, "Machine-readable JSON output");
  app.add_flag("--quiet,-q", g.quiet, "No notices on stderr");
  app.add_option("--backend", g.backend, "Vector backend: auto, sqlite-vec or brute");
  app.add_option("--model-path", g.model_path, "Folder of the all-MiniLM-L6-v2 model files");
  app.add_option("--sqlite-vec-path", g.sqlite_vec_path, "Path of the sqlite-vec extension (vec0.so)");
  app.add_option("--threads", g.threads, "Threads for embedding and scanning (0: all cores)");
  app.fallthrough();

  // add
  auto* add = app.add_subcommand("add", "Add an entry (fields as options, or a JSON object on stdin)");
  EntryOptions add_o;
  add_o.Register(add, false);
  add->callback([&]() {
    store::Entry e;
    Status s;
    if (add_o.stdin_json || (!add->count("--title") && !isatty(STDIN_FILENO))) {
      if (!(s = ReadJsonEntry(&e)).ok()) throw CLI::RuntimeError(Fail(g, s));
    }
    add_o.Apply(add, &e);
    if (e.title.empty() && !add->count("--title"))
      throw CLI::RuntimeError(Fail(g, Status::InvalidArgument("a title is required (--title, or JSON on stdin)")));
    if (e.type.empty()) throw CLI::RuntimeError(Fail(g, Status::InvalidArgument("a type is required (--type)")));
    std::unique_ptr<Engine> eng;
    if (!(s = OpenEngine(g, &eng)).ok()) throw CLI::RuntimeError(Fail(g, s));
    std::string notice;
    if (!(s = eng->Add(&e, &notice)).ok()) throw CLI::RuntimeError(Fail(g, s));
    Notice(g, notice);
    if (g.json) std::cout << store::EntryToJson(e).dump() << std::endl;
    else std::cout << "added " << e.id << std::endl;
  });

  // show
  auto* show = app.add_subcommand("show", "Show an entry");
  std::string show_id;
  show->add_option("id", show_id, "Entry id")->required();
  show->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    store::Entry e;
    if (s.ok()) s = eng->Get(show_id, &e);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    if (g.json) std::cout << store::EntryToJson(e).dump() << std::endl;
    else PrintEntry(e);
  });

  // list
  auto* list = app.add_subcommand("list", "List entries, newest first");
  std::string l_type, l_project, l_status;
  std::vector<std::string> l_tags;
  int l_limit = 50;
  list->add_option("--type", l_type, "Only this type");
  list->add_option("--project,-p", l_project, "Only this project");
  list->add_option("--tag", l_tags, "Only entries with this tag (repeatable: all required)");
  list->add_option("--status", l_status, "active or obsolete");
  list->add_option("--limit,-n", l_limit, "At most this many (0: all)")->check(CLI::NonNegativeNumber);
  list->callback([&]() {
    store::ListFilter f;
    if (list->count("--type")) {
      if (!store::IsEntryType(l_type))
        throw CLI::RuntimeError(Fail(g, Status::InvalidArgument("invalid type '" + l_type + "'")));
      f.type = l_type;
    }
    if (list->count("--project")) f.project = l_project;
    if (list->count("--status")) f.status = l_status;
    f.tags = SplitTags(l_tags);
    f.limit = l_limit;
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    std::vector<store::Entry> out;
    if (s.ok()) s = eng->store()->List(f, &out);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    if (g.json) {
      json j = json::array();
      for (const auto& e : out) j.push_back(store::EntryToJson(e));
      std::cout << j.dump() << std::endl;
    } else {
      for (const auto& e : out) std::cout << OneLine(e) << "\n";
      if (out.empty()) std::cout << "no entries\n";
      std::cout.flush();
    }
  });

  // edit
  auto* edit = app.add_subcommand("edit", "Change an entry's fields (options, or a partial JSON object on stdin)");
  std::string edit_id;
  edit->add_option("id", edit_id, "Entry id")->required();
  EntryOptions edit_o;
  edit_o.Register(edit, true);
  std::vector<std::string> add_tags, remove_tags;
  edit->add_option("--add-tag", add_tags, "Add a tag");
  edit->add_option("--remove-tag", remove_tags, "Remove a tag");
  edit->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    store::Entry e;
    if (s.ok()) s = eng->Get(edit_id, &e);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    if (edit_o.stdin_json) {
      store::Entry patch = e;
      if (!(s = ReadJsonEntry(&patch)).ok()) throw CLI::RuntimeError(Fail(g, s));
      if (patch.id != e.id)
        throw CLI::RuntimeError(Fail(g, Status::InvalidArgument("the JSON's id differs from the entry edited")));
      e = patch;
    }
    edit_o.Apply(edit, &e);
    for (const auto& t : SplitTags(add_tags)) e.tags.push_back(t);
    for (const auto& t : SplitTags(remove_tags)) std::erase(e.tags, t);
    std::string notice;
    if (!(s = eng->Update(&e, &notice)).ok()) throw CLI::RuntimeError(Fail(g, s));
    Notice(g, notice);
    if (g.json) std::cout << store::EntryToJson(e).dump() << std::endl;
    else std::cout << "updated " << e.id << std::endl;
  });

  // delete
  auto* del = app.add_subcommand("delete", "Delete entries");
  std::vector<std::string> del_ids;
  del->add_option("ids", del_ids, "Entry ids")->required();
  del->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    // Check every id first: a typo in the third id must not leave the first
    // two deleted.
    for (const auto& id : del_ids) {
      bool exists = false;
      if (!(s = eng->store()->Exists(id, &exists)).ok()) throw CLI::RuntimeError(Fail(g, s));
      if (!exists) throw CLI::RuntimeError(Fail(g, Status::NotFound("no entry with id " + id + "; nothing deleted")));
    }
    for (const auto& id : del_ids)
      if (!(s = eng->Delete(id)).ok()) throw CLI::RuntimeError(Fail(g, s));
    if (g.json) std::cout << json{{"deleted", del_ids}}.dump() << std::endl;
    else for (const auto& id : del_ids) std::cout << "deleted " << id << "\n";
  });

  // search
  auto* search = app.add_subcommand("search", "Search by meaning (default), keywords, or both");
  std::vector<std::string> q_words;
  std::string q_mode = "semantic", q_type, q_project, q_status;
  std::vector<std::string> q_tags;
  int q_limit = 10;
  double q_min = 0;
  search->add_option("query", q_words, "What you are looking for, in your words")->required();
  search->add_option("--mode,-m", q_mode, "semantic, keyword or hybrid")
      ->check(CLI::IsMember({"semantic", "keyword", "hybrid"}));
  search->add_option("--limit,-n", q_limit, "Number of results")->check(CLI::Range(1, 4096));
  search->add_option("--min-score", q_min, "Drop results scoring below this");
  search->add_option("--type", q_type, "Only this type");
  search->add_option("--project,-p", q_project, "Only this project");
  search->add_option("--tag", q_tags, "Only entries with this tag (repeatable)");
  search->add_option("--status", q_status, "active or obsolete");
  search->callback([&]() {
    SearchRequest req;
    for (size_t i = 0; i < q_words.size(); ++i) req.query += (i ? " " : "") + q_words[i];
    Status s = ParseSearchMode(q_mode, &req.mode);
    req.limit = q_limit;
    if (search->count("--min-score")) req.min_score = q_min;
    if (search->count("--type")) req.filter.type = q_type;
    if (search->count("--project")) req.filter.project = q_project;
    if (search->count("--status")) req.filter.status = q_status;
    req.filter.tags = SplitTags(q_tags);
    if (req.filter.type && !store::IsEntryType(*req.filter.type))
      s = Status::InvalidArgument("invalid type '" + *req.filter.type + "'");
    std::unique_ptr<Engine> eng;
    if (s.ok()) s = OpenEngine(g, &eng);
    SearchResponse resp;
    if (s.ok()) s = eng->Search(req, &resp);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    Notice(g, resp.notice);
    PrintResults(g, resp.results, json{{"mode", SearchModeName(resp.mode_used)}, {"model_loading", resp.model_loading}});
  });

  // similar
  auto* similar = app.add_subcommand("similar", "Entries nearest in meaning to an entry");
  std::string sim_id;
  int sim_limit = 5;
  similar->add_option("id", sim_id, "Entry id")->required();
  similar->add_option("--limit,-n", sim_limit, "Number of results")->check(CLI::Range(1, 4096));
  similar->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    std::vector<SearchResult> out;
    std::string notice;
    if (s.ok()) s = eng->Similar(sim_id, sim_limit, {}, &out, &notice);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    Notice(g, notice);
    PrintResults(g, out, json{{"entry_id", sim_id}});
  });

  // import / export
  auto* imp = app.add_subcommand("import", "Import entries from JSON Lines (all or nothing)");
  std::string imp_file, on_conflict = "error";
  bool no_embed = false;
  imp->add_option("file", imp_file, "JSON Lines file, or - for stdin")->required();
  imp->add_option("--on-conflict", on_conflict, "When an id exists: error, skip or replace")
      ->check(CLI::IsMember({"error", "skip", "replace"}));
  imp->add_flag("--no-embed", no_embed, "Do not compute embeddings (run `rekall index rebuild` later)");
  imp->callback([&]() {
    std::ifstream f;
    std::istream* in = &std::cin;
    if (imp_file != "-") {
      f.open(imp_file, std::ios::binary);
      if (!f) throw CLI::RuntimeError(Fail(g, Status::NotFound("cannot read " + imp_file)));
      in = &f;
    }
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    size_t n = 0, skipped = 0;
    std::string notice;
    if (s.ok()) s = eng->Import(*in, on_conflict, !no_embed, &n, &skipped, &notice);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    Notice(g, notice);
    if (g.json) std::cout << json{{"imported", n}, {"skipped", skipped}}.dump() << std::endl;
    else std::cout << "imported " << n << " entries" << (skipped ? ", skipped " + std::to_string(skipped) : "") << std::endl;
  });

  auto* exp = app.add_subcommand("export", "Export every entry as JSON Lines");
  std::string exp_file;
  exp->add_option("file", exp_file, "Output file (default: stdout)");
  exp->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    size_t n = 0;
    if (exp_file.empty() || exp_file == "-") {
      s = eng->Export(std::cout, &n);
    } else {
      // Write beside, then rename: an interrupted export never leaves a
      // half-written file under the name asked for.
      std::string tmp = exp_file + ".tmp";
      {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) s = Status::IOError("cannot write " + tmp);
        else s = eng->Export(f, &n);
      }
      if (s.ok() && std::rename(tmp.c_str(), exp_file.c_str()) != 0) s = Status::IOError("cannot write " + exp_file);
      if (!s.ok()) std::remove(tmp.c_str());
      if (s.ok() && !g.quiet) std::cerr << "exported " << n << " entries to " << exp_file << std::endl;
    }
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
  });

  // embed
  auto* embed = app.add_subcommand("embed", "Print the embedding of each text (JSON)");
  std::vector<std::string> texts;
  embed->add_option("texts", texts, "Texts to embed")->required();
  embed->callback([&]() {
    config::Config cfg;
    Status s = LoadConfig(g, &cfg);
    std::unique_ptr<EmbeddingProvider> p;
    std::vector<float> out;
    if (s.ok()) {
      p = NewModelProvider(cfg);
      s = p->CheckAvailable();
    }
    if (s.ok()) s = p->Embed(texts, &out, std::chrono::hours(1));
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    json j = json::array();
    size_t d = static_cast<size_t>(p->dim());
    for (size_t i = 0; i < texts.size(); ++i)
      j.push_back({{"text", texts[i]}, {"dimensions", d},
                   {"embedding", std::vector<float>(out.begin() + static_cast<long>(i * d),
                                                    out.begin() + static_cast<long>((i + 1) * d))}});
    std::cout << j.dump() << std::endl;
  });

  // index
  auto* index = app.add_subcommand("index", "The vector index");
  index->require_subcommand(1);
  auto* istatus = index->add_subcommand("status", "Entries embedded, missing, mismatched; backend");
  istatus->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    IndexStatus st;
    if (s.ok()) s = eng->GetIndexStatus(&st);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    Notice(g, st.notice);
    if (g.json) {
      std::cout << json{{"entries", st.entries}, {"embedded", st.embedded}, {"missing", st.missing},
                        {"mismatched", st.mismatched}, {"indexed", st.indexed}, {"backend", st.backend}}
                       .dump()
                << std::endl;
    } else {
      std::cout << "entries:    " << st.entries << "\nembedded:   " << st.embedded << "\nmissing:    " << st.missing
                << "\nmismatched: " << st.mismatched << "\nindexed:    " << st.indexed
                << "\nbackend:    " << st.backend << std::endl;
    }
  });
  auto* rebuild = index->add_subcommand("rebuild", "Embed the entries that have no embedding");
  bool rebuild_all = false;
  rebuild->add_flag("--all", rebuild_all, "Re-embed every entry");
  rebuild->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    bool tty = isatty(STDERR_FILENO) && !g.quiet && !g.json;
    auto progress = [&](size_t done, size_t total) {
      if (g.quiet || g.json) return;
      int width = 30;
      int filled = total ? static_cast<int>(width * done / total) : width;
      std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, ' ') + "] " +
                        std::to_string(done) + "/" + std::to_string(total);
      if (tty) std::cerr << "\r" << bar << std::flush;
      else if (done == total) std::cerr << bar << std::endl;
    };
    size_t n = 0;
    s = eng->RebuildIndex(rebuild_all, progress, &n);
    if (tty) std::cerr << std::endl;
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    if (g.json) std::cout << json{{"embedded", n}}.dump() << std::endl;
    else std::cout << "embedded " << n << " entries" << std::endl;
  });

  // stats
  auto* stats = app.add_subcommand("stats", "Entries, embeddings, backend, caches, model state, memory");
  bool stats_memory = false;
  stats->add_flag("--memory", stats_memory, "Also load the index to report its memory");
  stats->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    if (s.ok() && stats_memory) {
      IndexStatus st;
      s = eng->GetIndexStatus(&st);
    }
    json j;
    if (s.ok()) s = eng->Stats(&j);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    if (g.json) {
      std::cout << j.dump() << std::endl;
    } else {
      for (auto it = j.begin(); it != j.end(); ++it)
        std::cout << it.key() << ": " << (it->is_string() ? it->get<std::string>() : it->dump()) << "\n";
      std::cout.flush();
    }
  });

  // serve
  auto* serve = app.add_subcommand("serve", "Serve the knowledge base to AI agents over MCP (stdio)");
  int serve_workers = 2;
  bool serve_warm = false;
  serve->add_option("--workers", serve_workers, "Threads running tool calls")->check(CLI::Range(1, 64));
  serve->add_flag("--warm", serve_warm, "Load the model in the background at start (also: [engine] warm_model)");
  serve->callback([&]() {
    // stdout carries the protocol: everything else goes to stderr, and
    // nothing may be printed before the protocol descriptor is reserved.
    server::TuneMallocForServer();
    // As OpenEngine, as a long-running process: with vector_backend = auto
    // the engine searches an in-memory matrix (p50 6 ms instead of 11 ms at
    // 10K entries, for ~15 MB more resident: bench/soak/RESULTS.md);
    // `--backend sqlite-vec` keeps the vectors on disk.
    std::unique_ptr<Engine> eng;
    EngineOptions eo;
    Status s = LoadConfig(g, &eo.cfg);
    config::DbLocation loc = config::ResolveDbPath(g.db, eo.cfg);
    if (s.ok()) {
      eo.db_path = loc.path;
      eo.create_parent_dirs = loc.default_location;
      eo.long_running = true;
      s = Engine::Open(std::move(eo), &eng);
    }
    if (s.ok() && eng->store()->schema().migrated && !g.quiet)
      std::cerr << "rekall: migrated " << loc.path << " (Rekall schema " << eng->store()->schema().user_version
                << ", kept as is); backup at " << eng->store()->schema().backup_path << std::endl;
    if (!s.ok()) {
      std::cerr << "rekall: " << s.message() << std::endl;
      throw CLI::RuntimeError(ExitCode(s));
    }
    int out = server::ReserveStdoutForProtocol();
    if (out < 0) {
      std::perror("rekall serve: cannot reserve stdout for the protocol");
      throw CLI::RuntimeError(1);
    }
    // Opening the engine did not load the model, so initialize and
    // tools/list are answered at once; a warm-up loads it in the background.
    if (serve_warm || eng->config().warm_model) eng->provider()->WarmUp();
    if (!g.quiet)
      std::cerr << "rekall serve: " << eng->store()->path() << " (model " << eng->provider()->state()
                << ", waits up to " << eng->config().model_load_wait_seconds
                << " s for a loading model); MCP over stdio" << std::endl;
    server::RekallToolHandler handler(eng.get());
    server::ServerOptions opts;
    opts.worker_threads = serve_workers;
    opts.instructions = server::kRekallInstructions;
    int rc = server::McpServer(&handler, opts).Run(STDIN_FILENO, out);
    ::close(out);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });

  // migrate
  auto* migrate = app.add_subcommand("migrate", "Bring an existing Rekall database up to what this engine needs");
  bool dry_run = false;
  migrate->add_flag("--dry-run", dry_run, "Say what would change and where the backup would go; change nothing");
  migrate->callback([&]() {
    config::Config cfg;
    Status s = LoadConfig(g, &cfg);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    config::DbLocation loc = config::ResolveDbPath(g.db, cfg);
    store::OpenOptions oo;
    oo.create_if_missing = false;
    oo.auto_migrate = false;
    oo.read_only = true;
    std::unique_ptr<store::Store> st;
    if (!(s = store::Store::Open(loc.path, oo, &st)).ok()) throw CLI::RuntimeError(Fail(g, s));
    store::MigrationPlan plan;
    if (!(s = store::PlanMigration(st->db(), loc.path, &plan)).ok()) throw CLI::RuntimeError(Fail(g, s));
    std::vector<std::string> missing;
    st->EntriesWithoutEmbedding("summary", &missing);
    size_t entries = 0;
    st->Count(&entries);
    json j = {{"database", loc.path}, {"rekall_schema_version", plan.user_version},
              {"needed", plan.needed()}, {"dry_run", dry_run}, {"entries", entries},
              {"entries_without_embedding", missing.size()}};
    json steps = json::array();
    for (const auto& step : plan.steps) steps.push_back(step.description);
    j["steps"] = steps;
    if (plan.needed()) j["backup"] = plan.backup_path;
    if (!dry_run && plan.needed()) {
      st.reset();
      store::OpenOptions rw;
      rw.create_if_missing = false;
      if (!(s = store::Store::Open(loc.path, rw, &st)).ok()) throw CLI::RuntimeError(Fail(g, s));
      j["backup"] = st->schema().backup_path;
      j["migrated"] = st->schema().migrated;
    }
    if (g.json) {
      std::cout << j.dump() << std::endl;
      return;
    }
    std::cout << "database: " << loc.path << " (Rekall schema " << plan.user_version << ", left as is)\n";
    if (!plan.needed()) {
      std::cout << "up to date: nothing to migrate\n";
    } else {
      std::cout << (dry_run ? "would apply, in one transaction:\n" : "applied, in one transaction:\n");
      for (const auto& step : plan.steps) std::cout << "  - " << step.description << "\n";
      std::cout << (dry_run ? "backup would be written to: " : "backup: ") << j["backup"].get<std::string>() << "\n";
    }
    if (!missing.empty())
      std::cout << missing.size() << " of " << entries
                << " entries have no embedding of this model: `rekall index rebuild` adds them\n";
    std::cout.flush();
  });

  // doctor
  auto* doctor = app.add_subcommand("doctor", "Check the database: integrity, orphans, index drift, model mismatches");
  bool doctor_fix = false;
  doctor->add_flag("--fix", doctor_fix, "Repair what is safe (after a backup) and say what was done");
  doctor->callback([&]() {
    std::unique_ptr<Engine> eng;
    Status s = OpenEngine(g, &eng);
    std::vector<DoctorFinding> findings;
    std::string backup;
    if (s.ok()) s = eng->Doctor(doctor_fix, &findings, &backup);
    if (!s.ok()) throw CLI::RuntimeError(Fail(g, s));
    bool errors = false, open_problems = false;
    for (const auto& f : findings) {
      errors |= f.severity == "error";
      open_problems |= (f.severity == "warning" || f.severity == "error") && !f.fixed;
    }
    if (g.json) {
      json arr = json::array();
      for (const auto& f : findings)
        arr.push_back({{"check", f.check}, {"severity", f.severity}, {"message", f.message}, {"count", f.count},
                       {"fixed", f.fixed}});
      json j = {{"findings", arr}, {"healthy", !open_problems}};
      if (!backup.empty()) j["backup"] = backup;
      std::cout << j.dump() << std::endl;
    } else {
      for (const auto& f : findings)
        std::cout << (f.fixed ? "fixed" : f.severity) << "\t" << f.check << ": " << f.message << "\n";
      if (!backup.empty()) std::cout << "backup before repairs: " << backup << "\n";
      std::cout.flush();
    }
    if (errors) throw CLI::RuntimeError(1);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return 0;
}

}  // namespace rekall::cli

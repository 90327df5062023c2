#include "config/config.h"

#include <cstdlib>
#include <set>

#include <toml++/toml.h>

namespace rekall::config {

namespace {

std::string Home(Env* env) {
  std::string h = env->GetEnv("HOME");
  return h.empty() ? "/" : h;
}

Status ParseLong(const std::string& what, const std::string& v, long* out) {
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0)
    return Status::InvalidArgument(what + ": '" + v + "' is not an integer");
  *out = x;
  return Status::OK();
}

template <typename T>
Status GetInt(const toml::table& t, const std::string& key, const std::string& where, T* out) {
  const toml::node* n = t.get(key);
  if (!n) return Status::OK();
  if (!n->is_integer()) return Status::InvalidArgument(where + ": " + key + " must be an integer");
  *out = static_cast<T>(n->as_integer()->get());
  return Status::OK();
}

// Keys of a section of ours that we do not know are ignored with a warning
// (a typo must not pass silently, nor stop the tool).
void WarnUnknownKeys(const toml::table& t, const std::set<std::string>& known, const std::string& where,
                     std::vector<std::string>* warnings) {
  for (const auto& [k, v] : t) {
    if (!known.count(std::string(k.str())))
      warnings->push_back(where + ": unknown key '" + std::string(k.str()) + "' ignored");
  }
}

Status GetString(const toml::table& t, const std::string& key, const std::string& where, std::string* out) {
  const toml::node* n = t.get(key);
  if (!n) return Status::OK();
  if (!n->is_string()) return Status::InvalidArgument(where + ": " + key + " must be a string");
  *out = n->as_string()->get();
  return Status::OK();
}

// `value` as a precision name; `what` names where it came from.
Status ParsePrecisionValue(const std::string& what, const std::string& value, Precision* out) {
  if (ParsePrecision(value, out)) return Status::OK();
  // Only the precisions that ship are offered (int8 is a known name that
  // Validate refuses with its reason).
  return Status::InvalidArgument(what + " must be fp32 or bf16, not '" + value + "'");
}

}  // namespace

std::string ExpandHome(const std::string& p, const Options& o) {
  if (p == "~") return Home(o.env);
  if (p.rfind("~/", 0) == 0) return Home(o.env) + p.substr(1);
  return p;
}

std::string DefaultConfigPath(const Options& o) {
  std::string p = o.env->GetEnv("REKALL_CONFIG");
  if (!p.empty()) return ExpandHome(p, o);
  std::string home = o.env->GetEnv("REKALL_HOME");
  if (!home.empty()) return ExpandHome(home, o) + "/config.toml";
  std::string xdg = o.env->GetEnv("XDG_CONFIG_HOME");
  return (xdg.empty() ? Home(o.env) + "/.config" : xdg) + "/rekall/config.toml";
}

namespace {

// Rekall's [smart_embeddings]: we read `enabled`; its other keys are
// Rekall's (its model name, dimensions, thresholds, context_mode) and stay
// its business, so no warning for them.
Status LoadSmartEmbeddings(const toml::table& root, const std::string& path, Config* c) {
  const toml::node* section = root.get("smart_embeddings");
  if (section == nullptr) return Status::OK();
  const toml::table* t = section->as_table();
  if (t == nullptr)
    return Status::InvalidArgument("config file " + path + ": 'smart_embeddings' must be a table ([smart_embeddings])");
  const toml::node* n = t->get("enabled");
  if (n == nullptr) return Status::OK();
  if (!n->is_boolean())
    return Status::InvalidArgument("config file " + path + " [smart_embeddings]: enabled must be true or false");
  c->smart_embeddings = n->as_boolean()->get();
  return Status::OK();
}

}  // namespace

Status Load(const std::string& path, Config* c, std::vector<std::string>* warnings, const Options& o) {
  Env* const env = o.env;
  if (!path.empty() && env->IsRegularFile(path)) {
    toml::table root;
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      const auto& src = e.source();
      return Status::InvalidArgument("config file " + path + " line " + std::to_string(src.begin.line) + ": " +
                                     std::string(e.description()));
    }
    c->loaded_from = path;
    Status s;
    for (const char* section : {"performance", "engine"})
      if (root.contains(section) && !root[section].is_table())
        return Status::InvalidArgument("config file " + path + ": '" + section + "' must be a table ([" + section +
                                       "]), not a value");
    if (!(s = GetString(root, "data_dir", path, &c->data_dir)).ok()) return s;
    if (!(s = LoadSmartEmbeddings(root, path, c)).ok()) return s;
    if (const toml::table* perf = root["performance"].as_table()) {
      std::string where = path + " [performance]";
      if (!(s = GetInt(*perf, "cache_max_size", where, &c->cache_max_size)).ok()) return s;
      if (!(s = GetInt(*perf, "cache_ttl_seconds", where, &c->cache_ttl_seconds)).ok()) return s;
      if (!(s = GetInt(*perf, "model_idle_timeout_minutes", where, &c->model_idle_timeout_minutes)).ok()) return s;
      if (!(s = GetString(*perf, "vector_backend", where, &c->vector_backend)).ok()) return s;
      WarnUnknownKeys(*perf, {"cache_max_size", "cache_ttl_seconds", "model_idle_timeout_minutes", "vector_backend"},
                      where, warnings);
    }
    if (const toml::table* eng = root["engine"].as_table()) {
      std::string where = path + " [engine]";
      if (!(s = GetString(*eng, "model_path", where, &c->model_path)).ok()) return s;
      if (!(s = GetString(*eng, "sqlite_vec_path", where, &c->sqlite_vec_path)).ok()) return s;
      if (!c->model_path.empty()) c->model_path_origin = Origin::kConfigFile;
      if (!c->sqlite_vec_path.empty()) c->sqlite_vec_path_origin = Origin::kConfigFile;
      if (!(s = GetInt(*eng, "threads", where, &c->threads)).ok()) return s;
      if (!(s = GetInt(*eng, "model_idle_timeout_seconds", where, &c->model_idle_timeout_seconds)).ok()) return s;
      if (const toml::node* n = eng->get("model_load_wait_seconds")) {
        if (!n->is_number()) return Status::InvalidArgument(where + ": model_load_wait_seconds must be a number");
        c->model_load_wait_seconds = n->value<double>().value_or(5.0);
      }
      if (eng->get("precision")) {
        std::string p;
        if (!(s = GetString(*eng, "precision", where, &p)).ok()) return s;
        if (!(s = ParsePrecisionValue(where + ": precision", p, &c->precision)).ok()) return s;
      }
      if (const toml::node* n = eng->get("warm_model")) {
        if (!n->is_boolean()) return Status::InvalidArgument(where + ": warm_model must be true or false");
        c->warm_model = n->as_boolean()->get();
      }
      WarnUnknownKeys(*eng, {"model_path", "sqlite_vec_path", "threads", "model_load_wait_seconds", "warm_model",
                             "model_idle_timeout_seconds", "precision"},
                      where, warnings);
    }
    Status v = Validate(*c);
    if (!v.ok()) return Status::InvalidArgument("config file " + path + ": " + v.message());
  }
  Status s;
  std::string v;
  if (!(v = env->GetEnv("REKALL_CACHE_MAX_SIZE")).empty() && !(s = ParseLong("REKALL_CACHE_MAX_SIZE", v, &c->cache_max_size)).ok()) return s;
  if (!(v = env->GetEnv("REKALL_CACHE_TTL_SECONDS")).empty() && !(s = ParseLong("REKALL_CACHE_TTL_SECONDS", v, &c->cache_ttl_seconds)).ok()) return s;
  if (!(v = env->GetEnv("REKALL_MODEL_IDLE_TIMEOUT_MINUTES")).empty() &&
      !(s = ParseLong("REKALL_MODEL_IDLE_TIMEOUT_MINUTES", v, &c->model_idle_timeout_minutes)).ok())
    return s;
  if (!(v = env->GetEnv("REKALL_MODEL_IDLE_TIMEOUT_SECONDS")).empty() &&
      !(s = ParseLong("REKALL_MODEL_IDLE_TIMEOUT_SECONDS", v, &c->model_idle_timeout_seconds)).ok())
    return s;
  if (!(v = env->GetEnv("REKALL_THREADS")).empty() && !(s = ParseLong("REKALL_THREADS", v, &c->threads)).ok()) return s;
  if (!(v = env->GetEnv("REKALL_VECTOR_BACKEND")).empty()) c->vector_backend = v;
  if (!(v = env->GetEnv("REKALL_PRECISION")).empty() &&
      !(s = ParsePrecisionValue("REKALL_PRECISION", v, &c->precision)).ok())
    return s;
  if (!(v = env->GetEnv("REKALL_MODEL_PATH")).empty()) {
    c->model_path = v;
    c->model_path_origin = Origin::kEnvironment;
  }
  if (!(v = env->GetEnv("REKALL_SQLITE_VEC_PATH")).empty()) {
    c->sqlite_vec_path = v;
    c->sqlite_vec_path_origin = Origin::kEnvironment;
  }
  s = Validate(*c);
  if (!s.ok()) return Status::InvalidArgument("environment: " + s.message());
  c->model_path = ExpandHome(c->model_path, o);
  c->sqlite_vec_path = ExpandHome(c->sqlite_vec_path, o);
  return Status::OK();
}

Status Validate(const Config& c) {
  if (c.cache_max_size < 0 || c.cache_max_size > 10'000'000)
    return Status::InvalidArgument("cache_max_size must be between 0 and 10000000, not " + std::to_string(c.cache_max_size));
  if (c.cache_ttl_seconds < 0)
    return Status::InvalidArgument("cache_ttl_seconds must be >= 0, not " + std::to_string(c.cache_ttl_seconds));
  if (c.model_idle_timeout_minutes < 0)
    return Status::InvalidArgument("model_idle_timeout_minutes must be >= 0, not " +
                                   std::to_string(c.model_idle_timeout_minutes));
  if (c.vector_backend != "auto" && c.vector_backend != "sqlite-vec" && c.vector_backend != "brute")
    return Status::InvalidArgument("vector_backend must be auto, sqlite-vec or brute, not '" + c.vector_backend + "'");
  if (c.threads < 0 || c.threads > 256)
    return Status::InvalidArgument("threads must be between 0 (all cores) and 256, not " + std::to_string(c.threads));
  if (c.model_load_wait_seconds < 0 || c.model_load_wait_seconds > 600)
    return Status::InvalidArgument("model_load_wait_seconds must be between 0 and 600");
  if (const char* why = PrecisionRefusal(c.precision))
    return Status::InvalidArgument(std::string("precision = \"") + PrecisionName(c.precision) + "\" is refused: " + why);
  return Status::OK();
}

DbLocation ResolveDbPath(const std::string& cli_db, const Config& c, const Options& o) {
  if (!cli_db.empty()) return {ExpandHome(cli_db, o), "--db", false};
  std::string v;
  if (!(v = o.env->GetEnv("REKALL_HOME")).empty()) return {ExpandHome(v, o) + "/knowledge.db", "REKALL_HOME", true};
  if (!(v = o.env->GetEnv("REKALL_DB_PATH")).empty()) return {ExpandHome(v, o), "REKALL_DB_PATH", false};
  if (o.env->IsDirectory(".rekall")) return {".rekall/knowledge.db", "./.rekall", false};
  if (!c.data_dir.empty()) return {ExpandHome(c.data_dir, o) + "/knowledge.db", "config data_dir", true};
  std::string xdg = o.env->GetEnv("XDG_DATA_HOME");
  return {(xdg.empty() ? Home(o.env) + "/.local/share" : xdg) + "/rekall/knowledge.db",
          xdg.empty() ? "default" : "XDG_DATA_HOME", true};
}

}  // namespace rekall::config

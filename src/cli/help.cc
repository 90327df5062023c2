#include "cli/help.h"

#include <algorithm>

namespace rekall::cli {

namespace {

struct Examples {
  const char* command;  // path below `rekall`
  const char* text;
};

constexpr Examples kExamples[] = {
    {"add",
     "  rekall add pattern \"Retry with backoff\" -m semantic --content \"jitter, cap, idempotent calls only\"\n"
     "  echo \"## Problem ...\" | rekall add bug \"Fix: Nginx 504 after 60 s\" -t nginx,timeout -p billing -c 3\n"
     "  rekall add bug \"Gateway timeout\" -cj '{\"situation\":\"504 under load\",\"solution\":\"raise the timeout\"}'\n"
     "  rekall add --title \"Nginx 504 after 60 s\" --type bug --project billing \\\n"
     "             --content \"proxy_read_timeout defaults to 60s\" --tag nginx --tag timeout\n"
     "  echo '{\"title\":\"Use ULIDs\",\"type\":\"decision\",\"content\":\"sortable ids\"}' | rekall add"},
    {"show", "  rekall show 01JD8X\n  rekall --json show 01JD8XK2M4..."},
    {"list", "  rekall list --type bug --project billing --limit 20\n  rekall list --tag nginx --tag prod"},
    {"edit",
     "  rekall edit 01JD8X... --confidence 5 --add-tag prod\n"
     "  echo '{\"status\":\"obsolete\"}' | rekall edit 01JD8X... --stdin"},
    {"delete", "  rekall delete 01JD8X... 01JD8Y..."},
    {"search",
     "  rekall search \"request times out behind the reverse proxy\"\n"
     "  rekall search --mode keyword proxy-read-timeout\n"
     "  rekall search --mode hybrid --type bug --tag nginx --limit 5 \"gateway timeout\"\n"
     "  rekall search \"bug nginx timeout\" --json -l 5 -t bug -m episodic      # Rekall's short options"},
    {"similar", "  rekall similar 01JD8X... --limit 3\n  rekall similar \"requests time out behind the proxy\" -l 5"},
    {"browse", "  rekall browse\n  rekall browse -t bug -p billing -l 50"},
    {"deprecate", "  rekall deprecate 01JD8X... -r 01JD9A..."},
    {"info", "  rekall info\n  rekall --json info"},
    {"import", "  rekall import kb.jsonl\n  rekall import kb.jsonl --on-conflict skip\n  rekall import kb.rekall.zip -s merge -n\n  cat kb.jsonl | rekall import -"},
    {"export", "  rekall export > kb.jsonl\n  rekall export kb.jsonl\n  rekall export kb.rekall.zip      # Rekall's archive: `rekall import` in Rekall reads it\n  rekall export -f md > kb.md"},
    {"embed", "  rekall embed \"some text\" \"other text\""},
    {"index", "  rekall index status\n  rekall index rebuild --all"},
    {"index status", "  rekall index status\n  rekall --json index status"},
    {"index rebuild", "  rekall index rebuild\n  rekall index rebuild --all"},
    {"stats", "  rekall stats\n  rekall --json stats --memory"},
    {"serve", "  rekall serve\n  claude mcp add rekall -- rekall serve"},
    {"mcp-config", "  rekall mcp-config claude-code\n  rekall mcp-config vscode > .vscode/mcp.json"},
    {"migrate", "  rekall migrate --dry-run\n  rekall migrate"},
    {"doctor", "  rekall doctor\n  rekall doctor --fix"},
    {"link", "  rekall link 01JD8X 01JD8Y --type supersedes --reason \"the fix moved\"\n  rekall link 01JD8X 01JD8Z"},
    {"unlink", "  rekall unlink 01JD8X 01JD8Y\n  rekall unlink 01JD8X 01JD8Y --type related"},
    {"related", "  rekall related 01JD8X\n  rekall --json related 01JD8X --depth 2 --type derived_from"},
    {"graph", "  rekall graph 01JD8X\n  rekall graph 01JD8X --depth 4 --outgoing"},
    {"stale", "  rekall stale\n  rekall stale --days 90 --limit 50"},
    {"generalize",
     "  rekall generalize 01JD8X 01JD8Y 01JD8Z --dry-run\n"
     "  rekall generalize 01JD8X 01JD8Y --title \"Proxy timeouts\" -y"},
    {"review",
     "  rekall review --limit 5 --project billing\n"
     "  rekall --json review               # what is due; nothing reviewed\n"
     "  printf '4\\n3\\nq\\n' | rekall review  # ratings from a script"},
    {"backup",
     "  rekall backup                      # ~/.rekall/backups/knowledge_<date>.db\n"
     "  rekall backup -o /safe/kb.db\n  rekall backup --list"},
    {"restore",
     "  rekall restore ~/.rekall/backups/knowledge_2026-11-30_101500.db\n"
     "  rekall restore kb.db --yes --no-safety"},
};

void AddExamplesBelow(CLI::App* app, const std::string& path) {
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    std::string name = path.empty() ? sub->get_name() : path + " " + sub->get_name();
    for (const auto& e : kExamples)
      if (name == e.command) {
        // After what the command says of itself there (search: its modes).
        std::string own = sub->get_footer();
        sub->footer((own.empty() ? "" : own + "\n") + "\nExamples:\n" + e.text);
      }
    AddExamplesBelow(sub, name);
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Whether `arg` is an option of `app` that takes a value in the next word.
bool TakesValue(CLI::App* app, const std::string& arg) {
  if (arg.rfind("-", 0) != 0 || arg.find('=') != std::string::npos) return false;
  const CLI::Option* o = app->get_option_no_throw(arg);
  // A flag (--json, --quiet) expects no item, though its type size is 1.
  return o && o->get_items_expected_min() > 0 && !o->get_positional();
}

}  // namespace

void AddExamples(CLI::App* app) { AddExamplesBelow(app, ""); }

std::string NearestCommand(const std::string& typed, const std::vector<std::string>& names) {
  std::string best;
  size_t best_d = 3;
  for (const auto& n : names) {
    size_t d = n.rfind(typed, 0) == 0 && !typed.empty() ? 1 : EditDistance(typed, n);
    if (d < best_d) {
      best_d = d;
      best = n;
    }
  }
  return best;
}

std::string UnknownCommandMessage(CLI::App* app, int argc, char** argv) {
  std::vector<std::string> names;
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("-", 0) == 0) {
      if (TakesValue(app, a)) ++i;
      continue;
    }
    if (std::find(names.begin(), names.end(), a) != names.end()) return "";
    std::string near = NearestCommand(a, names);
    return "unknown command '" + a + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?") +
           " (rekall --help lists the commands)";
  }
  return "";
}

}  // namespace rekall::cli

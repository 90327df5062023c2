// rekall stale | generalize | review: keeping a knowledge base alive, as
// Rekall's commands of those names do, on its columns.
#include <algorithm>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "present/present.h"
#include "store/entry.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

struct StaleOptions {
  int days = 30;
  int limit = 20;
};

struct GeneralizeOptions {
  std::vector<std::string> ids;
  std::string title;
  bool dry_run = false;
  bool yes = false;
};

struct ReviewOptions {
  int limit = 10;
  std::string project;
};

// ---- stale

// Days since `iso` (Rekall's naive local timestamp), or -1 when unreadable.
long DaysSince(const std::string& iso) {
  std::tm tm{};
  std::istringstream in(iso.substr(0, 19));
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return -1;
  tm.tm_isdst = -1;
  const std::time_t then = std::mktime(&tm);
  return then < 0 ? -1 : static_cast<long>(std::difftime(std::time(nullptr), then) / 86400);
}

// Rekall's words for how long an entry has gone unread.
const char* Freshness(long days) { return days > 60 ? "fragile" : days > 30 ? "fading" : "ok"; }

Status Stale(Context& ctx, const StaleOptions& o) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  std::vector<store::Entry> out;
  if (s.ok()) s = eng->Stale(o.days, o.limit, &out);
  if (!s.ok()) return s;
  json entries = json::array();
  std::string text;
  for (const auto& e : out) {
    auto it = e.extra.find("last_accessed");
    const bool read = it != e.extra.end() && it->is_string();
    const long days = read ? DaysSince(it->get<std::string>()) : -1;
    entries.push_back({{"id", e.id}, {"title", e.title}, {"type", e.type},
                       {"last_accessed", read ? *it : json(nullptr)}, {"days", days < 0 ? json(nullptr) : json(days)},
                       {"status", days < 0 ? "never read" : Freshness(days)}});
    text += e.id + "  " + (days < 0 ? std::string("never read") : std::to_string(days) + " days, " + Freshness(days)) +
            "  [" + e.type + "] " + e.title + "\n";
  }
  if (ctx.json) ctx.PrintJson({{"days", o.days}, {"count", out.size()}, {"entries", entries}});
  else ctx.PrintText(out.empty() ? "No entries unread for more than " + std::to_string(o.days) + " days.\n"
                                 : text + std::to_string(out.size()) + " entries unread for " + std::to_string(o.days) +
                                       "+ days (rekall deprecate ID marks one obsolete)\n");
  return Status::OK();
}

// ---- generalize

std::string DraftText(const store::Entry& e) {
  std::string tags;
  for (const auto& t : e.tags) tags += (tags.empty() ? "" : ", ") + t;
  return "Title:   " + e.title + "\nType:    " + e.type + "\nProject: " + e.project.value_or("") +
         "\nTags:    " + (tags.empty() ? "none" : tags) + "\n\n" + e.content + "\n";
}

// Without -y, a person at a terminal is asked (yes by default, as Rekall
// asks); a script or an agent (stdin not a terminal) gets the entry made,
// Rekall's default answer, instead of a prompt nobody answers.
Status ConfirmGeneralize(const GeneralizeOptions& o) {
  if (o.yes || !StdinIsTerminal() || AskYesNo("Create this entry?", true)) return Status::OK();
  return Status::Cancelled("nothing created");
}

Status Generalize(Context& ctx, GeneralizeOptions o) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  std::vector<std::string> ids;  // resolved, each once: each is linked once
  for (size_t i = 0; s.ok() && i < o.ids.size(); ++i) {
    std::string id;
    if ((s = eng->ResolveId(o.ids[i], &id)).ok() && std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.push_back(id);
  }
  o.ids = std::move(ids);
  store::Entry e;
  e.title = o.title;
  if (s.ok()) s = eng->DraftGeneralized(o.ids, &e);
  if (!s.ok()) return s;
  if (!ctx.json) ctx.PrintText((o.dry_run ? "Would create (dry run, nothing written):\n" : "") + DraftText(e));
  std::string notice;
  if (!o.dry_run && (s = ConfirmGeneralize(o)).ok()) s = eng->Generalize(o.ids, &e, &notice);
  if (!s.ok()) return s;
  ctx.Notice(notice);
  if (ctx.json) {
    ctx.PrintJson({{"dry_run", o.dry_run}, {"entry", store::EntryToJson(e)}, {"sources", o.ids}});
  } else if (!o.dry_run) {
    std::cout << "Created " << e.id << ", linked derived_from to " << o.ids.size() << " entries" << std::endl;
  }
  return Status::OK();
}

// ---- review

enum class Rating { kGrade, kQuit };

// A line of input as Rekall's review reads it: empty is 3 (Good), q quits,
// a number out of 1..5 is 3, anything else ends the session.
Rating ParseRating(const std::string& line, int* grade, bool* defaulted) {
  const auto b = line.find_first_not_of(" \t\r");
  const auto e = line.find_last_not_of(" \t\r");
  const std::string t = b == std::string::npos ? "" : line.substr(b, e - b + 1);
  *defaulted = false;
  *grade = 3;
  if (t.empty()) return Rating::kGrade;
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(t, &used);
  } catch (const std::exception&) {
    return Rating::kQuit;  // q, or not a number
  }
  if (used != t.size()) return Rating::kQuit;
  if (v < 1 || v > 5) *defaulted = true;
  else *grade = static_cast<int>(v);
  return Rating::kGrade;
}

void ShowDue(size_t i, size_t n, const store::DueReview& d) {
  const store::Entry& e = d.entry;
  std::cout << "[" << i << "/" << n << "] " << e.title << " (" << e.id << ")\n      Type: " << e.type
            << " | Memory: " << store::MemoryTypeOf(e) << "\n";
  if (d.days_overdue > 0) std::cout << "      Overdue: " << d.days_overdue << " days\n";
  if (!e.content.empty())
    std::cout << "\n      " << (e.content.size() > 200 ? e.content.substr(0, 200) + "..." : e.content) << "\n\n";
  std::cout << "      [1] Forgot  [2] Hard  [3] Good  [4] Easy  [5] Perfect  [q] Quit\n      > " << std::flush;
}

// Asks for each due entry in turn; ratings are read one a line from stdin
// (a terminal, or a script's input). *grades: those given.
Status ReviewSession(Engine* eng, const std::vector<store::DueReview>& due, std::vector<int>* grades) {
  std::cout << "Review session: " << due.size() << " entries due\n\n";
  for (size_t i = 0; i < due.size(); ++i) {
    ShowDue(i + 1, due.size(), due[i]);
    std::string line;
    int grade = 3;
    bool defaulted = false;
    if (!std::getline(std::cin, line) || ParseRating(line, &grade, &defaulted) == Rating::kQuit) {
      std::cout << "\nReview session ended.\n";
      break;
    }
    if (defaulted) std::cout << "      Invalid rating, using 3\n";
    store::ReviewSchedule next;
    Status s = eng->RecordReview(due[i].entry.id, grade, &next);
    if (!s.ok()) return s;
    grades->push_back(grade);
    std::cout << "      Next review: in " << next.interval << " days (" << next.next_review << ")\n"
              << std::string(50, '-') << "\n";
  }
  return Status::OK();
}

json DueJson(const store::DueReview& d) {
  auto field = [&d](const char* k) {
    auto it = d.entry.extra.find(k);
    return it == d.entry.extra.end() ? json(nullptr) : *it;
  };
  return {{"id", d.entry.id}, {"title", d.entry.title}, {"type", d.entry.type},
          {"project", d.entry.project ? json(*d.entry.project) : json(nullptr)}, {"next_review", field("next_review")},
          {"days_overdue", d.days_overdue}, {"review_interval", field("review_interval")},
          {"ease_factor", d.ease_factor}, {"priority", d.priority}};
}

Status Review(Context& ctx, const ReviewOptions& o) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  std::vector<store::DueReview> due;
  if (s.ok()) s = eng->DueForReview(o.project.empty() ? std::nullopt : std::optional(o.project), o.limit, &due);
  if (!s.ok()) return s;
  if (ctx.json) {  // what is due, for a script or an agent; nothing reviewed
    json list = json::array();
    for (const auto& d : due) list.push_back(DueJson(d));
    ctx.PrintJson({{"count", due.size()}, {"due", list}});
    return Status::OK();
  }
  if (due.empty()) {
    std::cout << "No entries due for review!" << std::endl;
    return Status::OK();
  }
  std::vector<int> grades;
  s = ReviewSession(eng.get(), due, &grades);
  double sum = 0;
  for (int g : grades) sum += g;
  std::ostringstream avg;
  avg << std::fixed << std::setprecision(1) << (grades.empty() ? 0.0 : sum / static_cast<double>(grades.size()));
  std::cout << "\nReviewed: " << grades.size() << "\n";
  if (!grades.empty()) std::cout << "Average recall: " << avg.str() << "/5\n";
  std::cout.flush();
  return s;
}

}  // namespace

void RegisterMaintenanceCommands(CLI::App* app, Context* ctx) {
  auto stale = std::make_shared<StaleOptions>();
  CLI::App* c = AddCommand(app, "stale", "Active entries nobody read for --days days (or never)", ctx,
                           [stale](Context& x) { return Stale(x, *stale); });
  c->add_option("--days,-d", stale->days, "Unread for at least this many days (default 30)")
      ->check(CLI::Range(0, 1 << 20));
  c->add_option("--limit,-l", stale->limit, "At most this many (default 20)")->check(CLI::Range(0, 1 << 20));

  auto gen = std::make_shared<GeneralizeOptions>();
  c = AddCommand(app, "generalize",
                 "One pattern entry from several entries, linked derived_from to each (asks first on a terminal; "
                 "without one, creates it, Rekall's default answer)",
                 ctx, [gen](Context& x) { return Generalize(x, *gen); });
  c->add_option("ids", gen->ids, "Two entry ids or more (or unique prefixes)")->required()->expected(2, -1);
  c->add_option("--title,-t", gen->title, "Title of the new entry (default: from the sources' titles)");
  c->add_flag("--dry-run", gen->dry_run, "Show the entry that would be created; write nothing");
  c->add_flag("--yes,-y", gen->yes, "Create without asking");

  auto rev = std::make_shared<ReviewOptions>();
  c = AddCommand(app, "review",
                 "Spaced-repetition review (Rekall's SM-2) of the entries due: rate each 1-5, q to stop; ratings are "
                 "read one a line from stdin when it is not a terminal. With --json: list what is due, review nothing",
                 ctx, [rev](Context& x) { return Review(x, *rev); });
  c->add_option("--limit,-l", rev->limit, "At most this many entries (default 10)")->check(CLI::Range(0, 1 << 20));
  c->add_option("--project,-p", rev->project, "Only entries of this project");
}

}  // namespace rekall::cli

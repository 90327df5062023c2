// rekall add | show | list | edit | delete
#include <poll.h>
#include <unistd.h>

#include <iostream>
#include <limits>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "present/present.h"
#include "store/entry.h"
#include "util/json.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

// Which command EntryOptions serves: their short options differ.
enum class EntryCommand {
  kAdd,   // Rekall's: -t tags, -c confidence, -p project
  kEdit,  // ours: -t title, -c content, -p project
};

// The entry fields a user sets through options, shared by add and edit.
struct EntryOptions {
  CLI::App* cmd = nullptr;
  std::string title, content, type, project, status, superseded_by;
  int confidence = -1;
  std::vector<std::string> tags;
  bool stdin_json = false;

  void Register(CLI::App* c, EntryCommand which) {
    cmd = c;
    bool add = which == EntryCommand::kAdd;
    c->add_option(add ? "--title" : "--title,-t", title, "Title");
    c->add_option(add ? "--content" : "--content,-c", content, "Content (use - to read it from stdin)");
    c->add_option("--type", type, present::EntryTypeChoices());
    c->add_option("--project,-p", project, "Project name (empty string clears it)");
    c->add_option(add ? "--confidence,-c" : "--confidence", confidence, "0 to 5");
    // One value an occurrence: `add -t a,b bug "Title"` leaves the
    // positionals to the positionals.
    c->add_option(add ? "--tag,--tags,-t" : "--tag,--tags", tags,
                  add ? "Tag (repeat, or comma-separated; \\, for a comma)"
                      : "Replace the tags (repeat, or comma-separated; \\, for a comma)")
        ->allow_extra_args(!add);
    c->add_option("--status", status, "active or obsolete");
    c->add_option("--superseded-by", superseded_by, "Id of the entry that replaces this one");
    c->add_flag("--stdin", stdin_json, "Read the entry as a JSON object on stdin");
  }

  // The options given; `--content -` reads the content from stdin.
  present::EntryPatch Patch() const {
    present::EntryPatch p;
    if (cmd->count("--title")) p.title = title;
    if (cmd->count("--content")) p.content = content == "-" ? ReadAll(std::cin) : content;
    if (cmd->count("--type")) p.type = type;
    if (cmd->count("--project")) p.project = project;
    if (cmd->count("--confidence")) p.confidence = confidence;
    if (cmd->count("--tag")) p.tags = SplitTags(tags);
    if (cmd->count("--status")) p.status = status;
    if (cmd->count("--superseded-by")) p.superseded_by = superseded_by;
    return p;
  }
};

// `add`: the fields, and Rekall's forms: `add TYPE TITLE`, its memory type
// and its context (free text, or structured as JSON).
struct AddOptions {
  EntryOptions fields;
  std::string type, title;  // the positionals
  std::string memory_type, context_text, context_json;
  bool context_interactive = false;

  bool positional() const { return fields.cmd->count("type") > 0; }
};

struct EditOptions {
  std::string id;
  EntryOptions fields;
  std::vector<std::string> add_tags, remove_tags;
};

struct ListOptions {
  FilterOptions filter;
  int limit = 50;
};

// A JSON object on stdin, depth-bounded like every JSON that enters.
Status ReadJsonObject(json* j) {
  std::string text = ReadAll(std::cin);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    return Status::InvalidArgument("stdin is empty: give the entry as options (--title, --type) or as a JSON object "
                                   "on stdin");
  Status s = ParseJson(text, kMaxJsonDepth, j);
  if (!s.ok()) return Status::InvalidArgument("malformed JSON on stdin: " + s.message());
  return Status::OK();
}

Status ReadJsonEntry(store::Entry* e) {
  json j;
  Status s = ReadJsonObject(&j);
  return s.ok() ? store::EntryFromJson(j, e) : s;
}

// Whether stdin is not a terminal and has something to read (or its end)
// within a second, so `add` run from a process whose stdin stays open and
// silent goes on (or says what is missing) instead of hanging.
bool StdinHasInput() {
  if (isatty(STDIN_FILENO)) return false;
  pollfd p{STDIN_FILENO, POLLIN, 0};
  return ::poll(&p, 1, 1000) > 0;
}

// Whether `add` without --title or positionals reads its entry from stdin
// as JSON: with --stdin always; otherwise when stdin has input.
bool EntryOnStdin(const EntryOptions& o) {
  if (o.stdin_json) return true;
  return !o.cmd->count("--title") && StdinHasInput();
}

// Rekall's `add TYPE TITLE`: the positionals, and the content from stdin
// when --content is absent and stdin is not a terminal (`echo "## Problem"
// | rekall add bug "Fix: x"`).
Status PositionalEntry(const AddOptions& o, present::EntryPatch* p) {
  const CLI::App* c = o.fields.cmd;
  if (c->count("--type") || c->count("--title"))
    return Status::InvalidArgument("give the type and title either as `add TYPE TITLE` or as --type and --title, "
                                   "not both");
  if (o.fields.stdin_json)
    return Status::InvalidArgument("--stdin reads a JSON entry; with `add TYPE TITLE` stdin is the content");
  p->type = o.type;
  if (c->count("title")) p->title = o.title;
  if (!c->count("--content") && StdinHasInput()) p->content = ReadAll(std::cin);
  return Status::OK();
}

// Rekall's context options: -cj's object as rekall_add's `context`, and
// --context's text as its situation (when the object has none).
Status ContextOptions(const AddOptions& o, present::EntryPatch* p) {
  const CLI::App* c = o.fields.cmd;
  if (o.context_interactive)
    return Status::InvalidArgument("-ci/--context-interactive (Rekall's prompts) is not supported: give the context "
                                   "as JSON with -cj '{\"situation\": \"...\", \"solution\": \"...\"}'");
  json context = json::object();
  if (c->count("--context-json")) {
    Status s = ParseJson(o.context_json, kMaxJsonDepth, &context);
    if (!s.ok()) return Status::InvalidArgument("invalid JSON in --context-json: " + s.message());
    if (!context.is_object()) return Status::InvalidArgument("--context-json must be a JSON object");
  }
  if (c->count("--context") && !context.contains("situation")) context["situation"] = o.context_text;
  if (c->count("--context-json") || c->count("--context")) p->context = std::move(context);
  if (c->count("--memory-type")) p->memory_type = o.memory_type;
  return Status::OK();
}

// The entry `add` was given: *e from the options or JSON on stdin, *rekall
// what Rekall's forms give (positionals, context, memory type), applied
// once the database says which of them it can hold.
Status AddPatch(const AddOptions& o, store::Entry* e, present::EntryPatch* rekall) {
  const EntryOptions& f = o.fields;
  Status s;
  if (o.positional()) {
    s = PositionalEntry(o, rekall);
  } else if (EntryOnStdin(f)) {
    if (f.cmd->count("--content") && f.content == "-")
      return Status::InvalidArgument("--content - and a JSON entry both read stdin: give the content in one of them");
    s = ReadJsonEntry(e);
  }
  if (s.ok()) s = ContextOptions(o, rekall);
  if (!s.ok()) return s;
  f.Patch().ApplyTo(e);
  if (e->title.empty() && !f.cmd->count("--title") && !rekall->title)
    return Status::InvalidArgument("a title is required (`add TYPE TITLE`, --title, or JSON on stdin)");
  if (e->type.empty() && !rekall->type)
    return Status::InvalidArgument("a type is required (`add TYPE TITLE` or --type)");
  return Status::OK();
}

Status Add(Context& ctx, const AddOptions& o) {
  store::Entry e;
  present::EntryPatch rekall;
  Status s = AddPatch(o, &e, &rekall);
  std::unique_ptr<Engine> eng;
  if (s.ok()) s = ctx.OpenEngine(&eng);
  std::string cannot_hold, notice;
  if (s.ok()) s = rekall.FitToColumns([&eng](const std::string& c) { return eng->HasEntryColumn(c); }, &cannot_hold);
  if (!s.ok()) return s;
  ctx.Notice(cannot_hold);
  rekall.ApplyTo(&e);
  if (!(s = eng->Add(&e, &notice)).ok()) return s;
  ctx.Notice(notice);
  if (ctx.json) ctx.PrintJson(store::EntryToJson(e));
  else std::cout << "added " << e.id << std::endl;
  return Status::OK();
}

// The most ids `show` lists when a prefix names several (Rekall's five).
constexpr int kShowCandidates = 5;

// The id `show` was given, or a prefix of it: several matches are named
// with their titles, an input mistake (exit 2) like rekall_show's, so a
// script never takes the list for the entry.
Status ResolveForShow(Engine* eng, const std::string& given, std::string* id) {
  std::vector<std::string> ids;
  Status s = eng->MatchIds(given, kShowCandidates + 1, &ids);
  if (!s.ok()) return s;
  if (ids.empty()) return Status::NotFound("no entry with id " + given);
  if (ids.size() == 1) {
    *id = ids[0];
    return Status::OK();
  }
  std::string list;
  for (size_t i = 0; i < ids.size() && i < kShowCandidates; ++i) {
    store::Entry e;
    if (!(s = eng->Get(ids[i], &e)).ok()) return s;
    list += "\n  " + e.id + ": " + e.title;
  }
  if (ids.size() > kShowCandidates) list += "\n  ...";
  return Status::InvalidArgument("several entries match '" + given + "' (give more characters):" + list);
}

// The links of entry `id`, each with the other entry's title.
Status LinkedEntries(Engine* eng, const std::string& id, std::vector<present::LinkedEntry>* out) {
  std::vector<store::Link> links;
  Status s = eng->LinksOf(id, &links);
  for (size_t i = 0; s.ok() && i < links.size(); ++i) {
    const store::Link& l = links[i];
    present::LinkedEntry le{l.source_id == id, l.relation_type, l.source_id == id ? l.target_id : l.source_id, ""};
    store::Entry other;
    s = eng->Get(le.id, &other);
    if (s.ok()) le.title = other.title;
    if (s.IsNotFound()) s = Status::OK();
    out->push_back(std::move(le));
  }
  return s;
}

Status Show(Context& ctx, const std::string& given) {
  std::unique_ptr<Engine> eng;
  std::string id;
  Status s = ctx.OpenEngine(&eng);
  if (s.ok()) s = ResolveForShow(eng.get(), given, &id);
  store::Entry e;
  if (s.ok()) s = eng->Read(id, &e);  // counted as a read, as Rekall's show does
  std::vector<present::LinkedEntry> links;
  if (s.ok()) s = LinkedEntries(eng.get(), id, &links);
  if (!s.ok()) return s;
  if (!ctx.json) {
    ctx.PrintText(present::EntryDetailText(e, links));
    return Status::OK();
  }
  json j = store::EntryToJson(e);
  json context = present::EntryContext(e);
  if (!context.is_null()) j["context"] = std::move(context);
  j["links"] = present::LinkedEntriesJson(links);
  ctx.PrintJson(j);
  return Status::OK();
}

Status List(Context& ctx, const ListOptions& o) {
  store::ListFilter f = o.filter.ToFilter();  // the engine checks the filter
  f.limit = o.limit;
  return ListEntries(ctx, f);
}

// A partial entry as JSON on stdin (`j`): the entry edited, with the fields
// given replaced.
Status ApplyJsonPatch(const json& j, store::Entry* e) {
  store::Entry patched = *e;
  Status s = store::EntryFromJson(j, &patched);
  if (!s.ok()) return s;
  if (patched.id != e->id) return Status::InvalidArgument("the JSON's id differs from the entry edited");
  *e = patched;
  return Status::OK();
}

Status Edit(Context& ctx, const EditOptions& o) {
  if (o.fields.stdin_json && o.fields.cmd->count("--content") && o.fields.content == "-")
    return Status::InvalidArgument("--content - and --stdin both read stdin: give the content in one of them");
  json stdin_patch;
  Status s;
  if (o.fields.stdin_json && !(s = ReadJsonObject(&stdin_patch)).ok()) return s;
  present::EntryPatch patch = o.fields.Patch();
  patch.add_tags = SplitTags(o.add_tags);
  patch.remove_tags = SplitTags(o.remove_tags);
  // Applied by the engine to the entry as stored inside its write
  // transaction, so a concurrent edit's fields and tags survive.
  auto apply = [&](store::Entry* e) -> Status {
    if (o.fields.stdin_json) {
      Status js = ApplyJsonPatch(stdin_patch, e);
      if (!js.ok()) return js;
    }
    patch.ApplyTo(e);
    return Status::OK();
  };
  std::unique_ptr<Engine> eng;
  std::string notice;
  store::Entry e;
  if ((s = ctx.OpenEngine(&eng)).ok() && (s = eng->Get(o.id, &e)).ok()) s = eng->Patch(e.id, apply, &e, &notice);
  if (!s.ok()) return s;
  ctx.Notice(notice);
  if (ctx.json) ctx.PrintJson(store::EntryToJson(e));
  else std::cout << "updated " << e.id << std::endl;
  return Status::OK();
}

Status Delete(Context& ctx, const std::vector<std::string>& ids) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  if (!s.ok()) return s;
  // Check every id first: a typo in the third id must not leave the first
  // two deleted.
  for (const auto& id : ids) {
    bool exists = false;
    if (!(s = eng->Exists(id, &exists)).ok()) return s;
    if (!exists) return Status::NotFound("no entry with id " + id + "; nothing deleted");
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if ((s = eng->Delete(ids[i])).ok()) continue;
    // Each delete is its own transaction: say exactly which are gone.
    std::string done;
    for (size_t j = 0; j < i; ++j) done += (j ? ", " : "") + ids[j];
    return s.Append(i == 0 ? "; nothing deleted" : "; deleted before the failure: " + done + "; the rest were not");
  }
  if (ctx.json) ctx.PrintJson(json{{"deleted", ids}});
  else for (const auto& id : ids) std::cout << "deleted " << id << "\n";
  return Status::OK();
}

}  // namespace

Status ListEntries(Context& ctx, const store::ListFilter& f) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  std::vector<store::Entry> out;
  if (s.ok()) s = eng->List(f, &out);
  if (!s.ok()) return s;
  if (ctx.json) {
    json j = json::array();
    for (const auto& e : out) j.push_back(store::EntryToJson(e));
    ctx.PrintJson(j);
    return Status::OK();
  }
  std::string text;
  for (const auto& e : out) text += present::EntryLine(e) + "\n";
  ctx.PrintText(out.empty() ? "no entries\n" : text);
  return Status::OK();
}

void RegisterEntryCommands(CLI::App* app, Context* ctx) {
  auto add = std::make_shared<AddOptions>();
  CLI::App* c = AddCommand(app, "add",
                           "Add an entry: `add TYPE TITLE` (content on stdin or --content), options, or a JSON "
                           "object on stdin",
                           ctx, [add](Context& x) { return Add(x, *add); });
  c->add_option("type", add->type, "The entry's type (Rekall's form; or --type)");
  c->add_option("title", add->title, "Its title (or --title)");
  add->fields.Register(c, EntryCommand::kAdd);
  c->add_option("--memory-type,-m", add->memory_type, "episodic (an event, the default) or semantic (general knowledge)");
  c->add_option("--context", add->context_text, "Where this came from, in words: stored as the context's situation");
  c->add_option("--context-json", add->context_json,
                "-cj: the structured context as a JSON object (situation, solution, trigger_keywords, ...)");
  c->add_flag("--context-interactive", add->context_interactive, "-ci: Rekall's prompts (not supported: use -cj)");
  c->footer("Short options are Rekall's: -t tags, -c confidence, -p project, -m memory type (before this version "
            "-t was the title and -c the content: use --title and --content).");

  auto show_id = std::make_shared<std::string>();
  c = AddCommand(app, "show", "Show an entry: its fields, context and links", ctx,
                 [show_id](Context& x) { return Show(x, *show_id); });
  c->add_option("id", *show_id, "Entry id, or a unique prefix of one")->required();

  auto list = std::make_shared<ListOptions>();
  c = AddCommand(app, "list", "List entries, newest first", ctx, [list](Context& x) { return List(x, *list); });
  list->filter.Register(c);
  c->add_option("--limit,-l,-n", list->limit, "At most this many (0: all)")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));

  auto edit = std::make_shared<EditOptions>();
  c = AddCommand(app, "edit", "Change an entry's fields (options, or a partial JSON object on stdin)", ctx,
                 [edit](Context& x) { return Edit(x, *edit); });
  c->add_option("id", edit->id, "Entry id")->required();
  edit->fields.Register(c, EntryCommand::kEdit);
  c->add_option("--add-tag", edit->add_tags, "Add a tag");
  c->add_option("--remove-tag", edit->remove_tags, "Remove a tag");

  auto del_ids = std::make_shared<std::vector<std::string>>();
  c = AddCommand(app, "delete", "Delete entries", ctx, [del_ids](Context& x) { return Delete(x, *del_ids); });
  c->add_option("ids", *del_ids, "Entry ids")->required();
}

}  // namespace rekall::cli

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

// The entry fields a user sets through options, shared by add and edit.
struct EntryOptions {
  CLI::App* cmd = nullptr;
  std::string title, content, type, project, status, superseded_by;
  int confidence = -1;
  std::vector<std::string> tags;
  bool stdin_json = false;

  void Register(CLI::App* c, bool edit) {
    cmd = c;
    c->add_option("--title,-t", title, "Title");
    c->add_option("--content,-c", content, "Content (use - to read it from stdin)");
    c->add_option("--type", type, present::EntryTypeChoices());
    c->add_option("--project,-p", project, "Project name (empty string clears it)");
    c->add_option("--confidence", confidence, "0 to 5");
    c->add_option("--tag,--tags", tags, edit ? "Replace the tags (repeat, or comma-separated; \\, for a comma)"
                                             : "Tag (repeat, or comma-separated; \\, for a comma)");
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

// Whether `add` without --title reads its entry from stdin: with --stdin
// always; otherwise only when stdin is not a terminal and has something to
// read (or its end) within a second, so `add` run from a process whose
// stdin stays open and silent says what is missing instead of hanging.
bool EntryOnStdin(const EntryOptions& o) {
  if (o.stdin_json) return true;
  if (o.cmd->count("--title") || isatty(STDIN_FILENO)) return false;
  pollfd p{STDIN_FILENO, POLLIN, 0};
  return ::poll(&p, 1, 1000) > 0;
}

Status Add(Context& ctx, const EntryOptions& o) {
  store::Entry e;
  Status s;
  if (EntryOnStdin(o)) {
    if (o.cmd->count("--content") && o.content == "-")
      return Status::InvalidArgument("--content - and a JSON entry both read stdin: give the content in one of them");
    if (!(s = ReadJsonEntry(&e)).ok()) return s;
  }
  o.Patch().ApplyTo(&e);
  if (e.title.empty() && !o.cmd->count("--title"))
    return Status::InvalidArgument("a title is required (--title, or JSON on stdin)");
  if (e.type.empty()) return Status::InvalidArgument("a type is required (--type)");
  std::unique_ptr<Engine> eng;
  if (!(s = ctx.OpenEngine(&eng)).ok()) return s;
  std::string notice;
  if (!(s = eng->Add(&e, &notice)).ok()) return s;
  ctx.Notice(notice);
  if (ctx.json) ctx.PrintJson(store::EntryToJson(e));
  else std::cout << "added " << e.id << std::endl;
  return Status::OK();
}

Status Show(Context& ctx, const std::string& id) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  store::Entry e;
  if (s.ok()) s = eng->Read(id, &e);  // counted as a read, as Rekall's show does
  if (!s.ok()) return s;
  if (ctx.json) ctx.PrintJson(store::EntryToJson(e));
  else ctx.PrintText(present::EntryText(e, present::Audience::kTerminal));
  return Status::OK();
}

Status List(Context& ctx, const ListOptions& o) {
  store::ListFilter f = o.filter.ToFilter();  // the engine checks the filter
  f.limit = o.limit;
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
  for (const auto& id : ids)
    if (!(s = eng->Delete(id)).ok()) return s;
  if (ctx.json) ctx.PrintJson(json{{"deleted", ids}});
  else for (const auto& id : ids) std::cout << "deleted " << id << "\n";
  return Status::OK();
}

}  // namespace

void RegisterEntryCommands(CLI::App* app, Context* ctx) {
  auto add = std::make_shared<EntryOptions>();
  CLI::App* c = AddCommand(app, "add", "Add an entry (fields as options, or a JSON object on stdin)", ctx,
                           [add](Context& x) { return Add(x, *add); });
  add->Register(c, false);

  auto show_id = std::make_shared<std::string>();
  c = AddCommand(app, "show", "Show an entry", ctx, [show_id](Context& x) { return Show(x, *show_id); });
  c->add_option("id", *show_id, "Entry id")->required();

  auto list = std::make_shared<ListOptions>();
  c = AddCommand(app, "list", "List entries, newest first", ctx, [list](Context& x) { return List(x, *list); });
  list->filter.Register(c);
  c->add_option("--limit,-n", list->limit, "At most this many (0: all)")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));

  auto edit = std::make_shared<EditOptions>();
  c = AddCommand(app, "edit", "Change an entry's fields (options, or a partial JSON object on stdin)", ctx,
                 [edit](Context& x) { return Edit(x, *edit); });
  c->add_option("id", edit->id, "Entry id")->required();
  edit->fields.Register(c, true);
  c->add_option("--add-tag", edit->add_tags, "Add a tag");
  c->add_option("--remove-tag", edit->remove_tags, "Remove a tag");

  auto del_ids = std::make_shared<std::vector<std::string>>();
  c = AddCommand(app, "delete", "Delete entries", ctx, [del_ids](Context& x) { return Delete(x, *del_ids); });
  c->add_option("ids", *del_ids, "Entry ids")->required();
}

}  // namespace rekall::cli

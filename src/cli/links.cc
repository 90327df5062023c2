// rekall link | unlink | related | graph: Rekall's links between entries
// (its `links` table), by id or unique id prefix.
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

// The deepest `graph` draws (Rekall's range).
constexpr int kMaxGraphDepth = 4;
// Titles in the graph are cut to this many characters, as Rekall's.
constexpr size_t kGraphTitleChars = 40;

struct LinkOptions {
  std::string source, target, type = "related", reason;
};

struct RelatedOptions {
  std::string id, type;
  int depth = 1;
};

enum class Direction { kBoth, kOutgoing, kIncoming };

struct GraphOptions {
  std::string id;
  int depth = 2;
  bool outgoing = false, incoming = false;
  Direction direction() const {
    if (outgoing == incoming) return Direction::kBoth;  // neither or both: both ways
    return outgoing ? Direction::kOutgoing : Direction::kIncoming;
  }
};

CLI::Validator RelationTypeCheck() {
  return CLI::IsMember(std::vector<std::string>(std::begin(store::kRelationTypes), std::end(store::kRelationTypes)));
}

std::optional<std::string> OptionalType(const std::string& t) {
  return t.empty() ? std::nullopt : std::optional<std::string>(t);
}

// Opens the engine and resolves each of `ids` (exact or a unique prefix) in place.
Status OpenResolved(Context& ctx, std::unique_ptr<Engine>* eng, std::vector<std::string*> ids) {
  Status s = ctx.OpenEngine(eng);
  for (size_t i = 0; s.ok() && i < ids.size(); ++i) s = (*eng)->ResolveId(*ids[i], ids[i]);
  return s;
}

std::string Utf8Prefix(const std::string& s, size_t chars) {
  size_t i = 0, n = 0;
  while (i < s.size() && n < chars) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    ++n;
  }
  return i < s.size() ? s.substr(0, i) + "..." : s;
}

Status Link(Context& ctx, LinkOptions o) {
  std::unique_ptr<Engine> eng;
  Status s = OpenResolved(ctx, &eng, {&o.source, &o.target});
  store::Link l{"", o.source, o.target, o.type, "", OptionalType(o.reason)};
  if (s.ok()) s = eng->Link(&l);
  if (!s.ok()) return s;
  if (ctx.json) {
    ctx.PrintJson({{"id", l.id}, {"source_id", l.source_id}, {"target_id", l.target_id},
                   {"relation_type", l.relation_type}, {"created_at", l.created_at},
                   {"reason", l.reason ? json(*l.reason) : json(nullptr)}});
    return Status::OK();
  }
  ctx.PrintText("Created link: " + l.source_id + " → [" + l.relation_type + "] → " + l.target_id + "\n" +
                (l.reason ? "  Reason: " + *l.reason + "\n" : ""));
  return Status::OK();
}

Status Unlink(Context& ctx, LinkOptions o) {
  std::unique_ptr<Engine> eng;
  Status s = OpenResolved(ctx, &eng, {&o.source, &o.target});
  int removed = 0;
  if (s.ok()) s = eng->Unlink(o.source, o.target, OptionalType(o.type), &removed);
  if (!s.ok()) return s;
  if (ctx.json) {
    ctx.PrintJson({{"source_id", o.source}, {"target_id", o.target},
                   {"relation_type", o.type.empty() ? json(nullptr) : json(o.type)}, {"removed", removed}});
    return Status::OK();
  }
  // As Rekall: finding nothing to remove is an answer, not an error.
  ctx.PrintText(removed ? "Deleted " + std::to_string(removed) + " link(s)\n"
                        : "No links found from " + o.source + " to " + o.target + "\n");
  return Status::OK();
}

json RelatedJson(const RelatedEntry& r) {
  return {{"id", r.entry.id}, {"title", r.entry.title}, {"type", r.entry.type},
          {"relation_type", r.relation_type}, {"direction", r.outgoing ? "outgoing" : "incoming"},
          {"depth", r.depth}, {"reason", r.reason ? json(*r.reason) : json(nullptr)}};
}

std::string RelatedText(const store::Entry& start, int depth, const std::vector<RelatedEntry>& out) {
  if (out.empty()) return "No links found for entry " + start.id + "\n";
  std::string text = "Related to \"" + start.title + "\" (" + start.id + "):\n";
  for (const auto& r : out)
    text += std::string(2 * r.depth, ' ') + (r.outgoing ? "→" : "←") + " [" + r.relation_type + "] " + r.entry.id +
            " \"" + r.entry.title + "\"" + (r.reason ? "  (" + *r.reason + ")" : "") + "\n";
  return text + "Total: " + std::to_string(out.size()) + " related entries (depth " + std::to_string(depth) + ")\n";
}

Status Related(Context& ctx, RelatedOptions o) {
  std::unique_ptr<Engine> eng;
  Status s = OpenResolved(ctx, &eng, {&o.id});
  store::Entry start;
  std::vector<RelatedEntry> out;
  if (s.ok()) s = eng->Get(o.id, &start);
  if (s.ok()) s = eng->Related(o.id, o.depth, OptionalType(o.type), &out);
  if (!s.ok()) return s;
  if (ctx.json) {
    json related = json::array();
    for (const auto& r : out) related.push_back(RelatedJson(r));
    ctx.PrintJson({{"entry_id", o.id}, {"depth", o.depth}, {"count", out.size()}, {"related", related}});
    return Status::OK();
  }
  ctx.PrintText(RelatedText(start, o.depth, out));
  return Status::OK();
}

// The graph around an entry, as a tree: each entry is expanded once (where
// it is first reached, breadth first), so cycles end.
struct GraphNode {
  store::Entry entry;
  std::string link_id;        // the link from the parent (none at the root)
  std::string relation_type;  // of that link
  bool outgoing = false;      // the parent is that link's source
  std::optional<std::string> reason;
  bool repeated = false;      // already drawn elsewhere: not expanded again
  std::vector<GraphNode> children;
};

class GraphBuilder {
 public:
  GraphBuilder(Engine* eng, Direction dir) : eng_(eng), dir_(dir) {}

  Status Build(const std::string& id, int depth, GraphNode* root) {
    Status s = eng_->Get(id, &root->entry);
    seen_.insert(id);
    std::vector<GraphNode*> level{root};
    for (int d = 0; s.ok() && d < depth && !level.empty(); ++d) {
      std::vector<GraphNode*> next;
      for (GraphNode* n : level)
        if (s.ok()) s = Expand(n, &next);
      level = std::move(next);
    }
    return s;
  }

 private:
  Status Expand(GraphNode* node, std::vector<GraphNode*>* next) {
    std::vector<store::Link> links;
    Status s = eng_->LinksOf(node->entry.id, &links);
    for (size_t i = 0; s.ok() && i < links.size(); ++i) {
      const store::Link& l = links[i];
      if (l.id == node->link_id) continue;  // the way back to the parent
      GraphNode child;
      child.outgoing = l.source_id == node->entry.id;
      if ((child.outgoing && dir_ == Direction::kIncoming) || (!child.outgoing && dir_ == Direction::kOutgoing))
        continue;
      const std::string& other = child.outgoing ? l.target_id : l.source_id;
      child.link_id = l.id;
      child.relation_type = l.relation_type;
      child.reason = l.reason;
      child.repeated = !seen_.insert(other).second;
      s = eng_->Get(other, &child.entry);
      node->children.push_back(std::move(child));
    }
    // Pointers into children are taken once it no longer grows.
    for (auto& c : node->children)
      if (!c.repeated) next->push_back(&c);
    return s;
  }

  Engine* eng_;
  Direction dir_;
  std::set<std::string> seen_;
};

void DrawGraph(const GraphNode& n, const std::string& indent, std::string* out) {
  for (size_t i = 0; i < n.children.size(); ++i) {
    const GraphNode& c = n.children[i];
    const bool last = i + 1 == n.children.size();
    *out += indent + (last ? "╰─" : "├─") + (c.outgoing ? "→" : "←") + " [" + c.relation_type + "] " +
            Utf8Prefix(c.entry.title, kGraphTitleChars) + " (" + c.entry.id + ")" +
            (c.reason ? " → " + *c.reason : "") + (c.repeated ? "  (already in the graph)" : "") + "\n";
    DrawGraph(c, indent + (last ? "   " : "│  "), out);
  }
}

json GraphJson(const GraphNode& n) {
  json children = json::array();
  for (const auto& c : n.children) {
    json j = GraphJson(c);
    j.update({{"relation_type", c.relation_type}, {"direction", c.outgoing ? "outgoing" : "incoming"},
              {"reason", c.reason ? json(*c.reason) : json(nullptr)}, {"repeated", c.repeated}});
    children.push_back(std::move(j));
  }
  return {{"id", n.entry.id}, {"title", n.entry.title}, {"type", n.entry.type}, {"links", children}};
}

Status Graph(Context& ctx, GraphOptions o) {
  std::unique_ptr<Engine> eng;
  Status s = OpenResolved(ctx, &eng, {&o.id});
  GraphNode root;
  if (s.ok()) s = GraphBuilder(eng.get(), o.direction()).Build(o.id, o.depth, &root);
  if (!s.ok()) return s;
  if (ctx.json) {
    ctx.PrintJson({{"depth", o.depth}, {"root", GraphJson(root)}});
    return Status::OK();
  }
  std::string text = root.entry.title + " (" + root.entry.id + ")\n";
  if (root.children.empty()) text += "(no links)\n";
  DrawGraph(root, "", &text);
  ctx.PrintText(text);
  return Status::OK();
}

}  // namespace

void RegisterLinkCommands(CLI::App* app, Context* ctx) {
  auto link = std::make_shared<LinkOptions>();
  CLI::App* c =
      AddCommand(app, "link", "Link two entries (Rekall's links: related, supersedes, derived_from, contradicts)", ctx,
                 [link](Context& x) { return Link(x, *link); });
  c->add_option("source", link->source, "Source entry id (or unique prefix)")->required();
  c->add_option("target", link->target, "Target entry id (or unique prefix)")->required();
  c->add_option("--type,-t", link->type, "Relation type (default related)")->check(RelationTypeCheck());
  c->add_option("--reason,-r", link->reason, "Why they are linked");

  auto unlink = std::make_shared<LinkOptions>();
  unlink->type.clear();
  c = AddCommand(app, "unlink", "Remove the links from one entry to another (direction matters)", ctx,
                 [unlink](Context& x) { return Unlink(x, *unlink); });
  c->add_option("source", unlink->source, "Source entry id (or unique prefix)")->required();
  c->add_option("target", unlink->target, "Target entry id (or unique prefix)")->required();
  c->add_option("--type,-t", unlink->type, "Only links of this relation type (default: every type)")
      ->check(RelationTypeCheck());

  auto rel = std::make_shared<RelatedOptions>();
  c = AddCommand(app, "related", "Entries linked to an entry, either way, up to --depth links away", ctx,
                 [rel](Context& x) { return Related(x, *rel); });
  c->add_option("id", rel->id, "Entry id (or unique prefix)")->required();
  c->add_option("--type,-t", rel->type, "Follow links of this relation type only")->check(RelationTypeCheck());
  c->add_option("--depth,-d", rel->depth, "Links away, 1 to 3 (default 1)")->check(CLI::Range(1, kMaxRelatedDepth));

  auto graph = std::make_shared<GraphOptions>();
  c = AddCommand(app, "graph", "Draw the links around an entry as a tree", ctx,
                 [graph](Context& x) { return Graph(x, *graph); });
  c->add_option("id", graph->id, "Entry id (or unique prefix)")->required();
  c->add_option("--depth,-d", graph->depth, "Links away, 1 to 4 (default 2)")->check(CLI::Range(1, kMaxGraphDepth));
  c->add_flag("--outgoing,-o", graph->outgoing, "Only links from each entry");
  c->add_flag("--incoming,-i", graph->incoming, "Only links to each entry");
}

}  // namespace rekall::cli

#include "tests/fuzz/fuzz_targets.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "embed/tokenizer.h"
#include "engine/rekall_archive.h"
#include "engine/rekall_formats.h"
#include "server/fake_tool_handler.h"
#include "server/jsonrpc.h"
#include "server/mcp_server.h"
#include "server/rekall_tools.h"
#include "server/schema_check.h"
#include "store/entry.h"
#include "store/store.h"
#include "util/json.h"
#include "util/utf8.h"

namespace rekall::fuzz {

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

const embed::Tokenizer& SmallTokenizer() {
  static std::unique_ptr<embed::Tokenizer> t = [] {
    std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s", "a", "##b",
                                      "ab",    "c",     "##c",   ",",     ".",      "é",   "e",   "日", "本"};
    std::unique_ptr<embed::Tokenizer> tok;
    if (!embed::Tokenizer::FromVocab(vocab, &tok).ok()) Die("tokenizer vocab");
    return tok;
  }();
  return *t;
}

// One store on a temp file, shared by the keyword-query target.
store::Store* QueryStore() {
  static std::unique_ptr<store::Store> s = [] {
    char tmpl[] = "/tmp/rekall_fuzz_XXXXXX";
    std::string dir = mkdtemp(tmpl);
    std::unique_ptr<store::Store> st;
    if (!store::Store::Open(dir + "/k.db", {}, &st).ok()) Die("open store");
    for (const char* title : {"Nginx proxy-read-timeout", "C++ iterator invalidation", "Déploiement 日本 🚀"}) {
      store::Entry e;
      e.title = title;
      e.content = std::string("content about ") + title + " AND NEAR( * \"quoted\"";
      e.type = "bug";
      e.tags = {"fuzz"};
      if (!st->Add(&e).ok()) Die("seed entry");
    }
    return st;
  }();
  return s.get();
}

// The fake tools (and the Rekall tool specs), minus the one that writes to
// stdout, where libFuzzer reports.
class FuzzToolHandler : public server::FakeToolHandler {
 public:
  FuzzToolHandler() : FakeToolHandler(/*rekall_tools=*/true) {}
  server::ToolResult Call(const std::string& name, const nlohmann::json& args,
                          const server::CancelToken& cancel) override {
    if (name == "print") return server::ToolResult::Error("print is not fuzzed");
    return FakeToolHandler::Call(name, args, cancel);
  }
};

// A file descriptor of an in-memory file holding `data`, at offset 0: a
// regular file never blocks the writer and reads to EOF, unlike a pipe.
int MemoryFile(std::string_view data) {
  int fd = memfd_create("rekall_fuzz", MFD_CLOEXEC);
  if (fd < 0) Die("memfd_create");
  for (size_t off = 0; off < data.size();) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) Die("write");
    off += static_cast<size_t>(n);
  }
  if (lseek(fd, 0, SEEK_SET) != 0) Die("lseek");
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  if (lseek(fd, 0, SEEK_SET) != 0) Die("lseek");
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  if (n < 0) Die("read");
  return out;
}

// One server output line: a JSON-RPC 2.0 response. Responses may nest a few
// levels deeper than the request they echo (result, structuredContent...).
void CheckResponse(std::string_view line) {
  nlohmann::json r;
  if (!ParseJson(line, kMaxJsonDepth + 8, &r).ok()) Die("an output line is not JSON");
  if (!r.is_object() || r.value("jsonrpc", "") != "2.0" || !r.contains("id")) Die("not a JSON-RPC response");
  if (r.contains("result") == r.contains("error")) Die("a response needs exactly one of result and error");
}

}  // namespace

void Tokenizer(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto& tok = SmallTokenizer();
  for (size_t max_len : {size_t{2}, size_t{8}, size_t{256}}) {
    auto ids = tok.Encode(text, max_len);
    if (ids.size() < 2 || ids.size() > max_len) Die("token count outside [2, max_len]");
    if (ids.front() != tok.cls_id() || ids.back() != tok.sep_id()) Die("missing [CLS]/[SEP]");
    for (int32_t id : ids)
      if (id < 0 || id >= 18) Die("token id outside the vocabulary");
  }
}

void JsonRpc(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  server::jsonrpc::LineFramer framer(64);
  size_t lines = 0;
  framer.Feed(bytes, [&](std::string_view line) {
    ++lines;
    auto out = server::jsonrpc::ParseLine(line);
    if (out.message && out.error) Die("both a message and an error");
    if (out.error) {
      // Errors must serialise (the reply must be valid JSON on the wire).
      std::string wire = server::jsonrpc::Serialize(*out.error);
      // One message per line: exactly one newline, at the end.
      if (wire.empty() || wire.back() != '\n' || wire.find('\n') != wire.size() - 1)
        Die("a serialised message is not exactly one line");
    }
  }, [](std::string_view prefix) {
    if (prefix.size() > 64) Die("an oversized line's prefix is longer than the limit");
    nlohmann::json id = server::jsonrpc::IdOfPrefix(prefix);
    if (!id.is_null() && !id.is_string() && !id.is_number_integer()) Die("an id neither string nor integer");
  });
  framer.Finish([&](std::string_view line) { server::jsonrpc::ParseLine(line); });
  // The same bytes as a whole line, and as tool arguments.
  server::jsonrpc::ParseLine(bytes);
  auto args = nlohmann::json::parse(bytes, nullptr, false);
  if (!args.is_discarded()) {
    for (const auto& spec : server::RekallToolSpecs()) server::CheckArguments(spec.input_schema, args);
  }
}

void KeywordQuery(const uint8_t* data, size_t size) {
  std::string q(reinterpret_cast<const char*>(data), size);
  std::vector<store::KeywordHit> hits;
  Status s = QueryStore()->KeywordSearch(q, {}, 10, &hits);
  bool valid = IsValidUtf8(q) && q.find('\0') == std::string::npos;
  if (valid && !s.ok()) {
    std::fprintf(stderr, "query %s: %s\n", nlohmann::json(q).dump().c_str(), s.ToString().c_str());
    Die("keyword search failed on a valid query");
  }
  if (!valid && s.ok()) Die("invalid UTF-8 query accepted");
}

void ImportLine(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (j.is_discarded()) return;
  store::Entry e;
  if (!store::EntryFromJson(j, &e).ok()) return;
  store::NormalizeTags(&e.tags);
  if (store::ValidateEntry(e).ok()) {
    // A valid entry round-trips through its JSON form.
    store::Entry back;
    if (!store::EntryFromJson(store::EntryToJson(e), &back).ok()) Die("valid entry does not round-trip");
    if (store::EntryToJson(back) != store::EntryToJson(e)) Die("round-trip changed the entry");
  }
}

void RekallArchive(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  RekallArchiveLimits limits;  // small, so that a bomb stops early
  limits.max_archive_bytes = limits.max_entries_json_bytes = 8u << 20;
  std::string manifest, entries_json;
  if (ReadRekallArchive(bytes, limits, &manifest, &entries_json).ok()) {
    if (manifest.size() > limits.max_manifest_bytes || entries_json.size() > limits.max_entries_json_bytes)
      Die("archive member past its bound");
    RekallManifestInfo info;
    CheckRekallManifest(manifest, entries_json, &info);
  } else {
    entries_json.assign(bytes);
  }
  std::vector<store::Entry> entries, valid;
  if (!RekallEntriesFromJson(entries_json, &entries).ok()) return;
  for (auto& e : entries) {
    store::NormalizeTags(&e.tags);
    if (store::ValidateEntry(e).ok()) valid.push_back(e);
  }
  // What we write of valid entries reads back to the same text.
  std::string text = RekallEntriesJson(valid, nullptr);
  std::vector<store::Entry> back;
  if (!RekallEntriesFromJson(text, &back).ok()) Die("our Rekall JSON does not parse");
  if (RekallEntriesJson(back, nullptr) != text) Die("Rekall JSON round-trip changed the entries");
}

void DatabaseFile(const uint8_t* data, size_t size) {
  char tmpl[] = "/tmp/rekall_fuzz_db_XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) Die("mkstemp");
  if (size && write(fd, data, size) != static_cast<ssize_t>(size)) Die("write");
  close(fd);
  {
    std::unique_ptr<store::Store> s;
    if (store::Store::Open(tmpl, {}, &s).ok()) {
      std::vector<store::Entry> all;
      s->List({}, &all);
      std::vector<store::KeywordHit> hits;
      s->KeywordSearch("timeout", {}, 5, &hits);
      std::vector<store::StoredEmbedding> embs;
      s->ListEmbeddings(EmbeddingType::kSummary, &embs);
    }
  }
  std::string base = tmpl;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) unlink((base + suffix).c_str());
  // Backups made by a migration sit beside the file.
  std::string dir = "/tmp/";
  std::string cmd = "rm -f " + base + ".backup-*";
  if (std::system(cmd.c_str()) != 0) Die("cleanup");
}

void McpServer(const uint8_t* data, size_t size) {
  static FuzzToolHandler handler;
  server::ServerOptions options;
  options.worker_threads = 1;
  options.max_message_bytes = 1 << 16;
  options.eof_grace = std::chrono::milliseconds(0);  // EOF cancels a "slow" call at once
  int in = MemoryFile(std::string_view(reinterpret_cast<const char*>(data), size));
  int out = MemoryFile("");
  int rc = server::McpServer(&handler, options).Run(in, out);
  std::string wire = ReadAll(out);
  close(in);
  close(out);
  if (rc != 0) Die("Run failed");
  std::string_view rest = wire;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) Die("the output ends inside a line");
    CheckResponse(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
}

}  // namespace rekall::fuzz

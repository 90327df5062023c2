// Import and export in Rekall's formats, through the Engine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "engine/engine.h"
#include "engine/fake_provider_for_test.h"
#include "engine/rekall_archive.h"
#include "engine/rekall_formats.h"

namespace fs = std::filesystem;

namespace rekall {
namespace {

std::string FixtureZip() {
  std::ifstream f(std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-export.rekall.zip",
                  std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class ImportFormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rekall_import_formats_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<Engine> Open(const std::string& name = "k.db") {
    EngineOptions o;
    o.db_path = dir_ + "/" + name;
    o.cfg.vector_backend = "brute";
    o.provider = std::make_unique<FakeProvider>();
    std::unique_ptr<Engine> e;
    Status s = Engine::Open(std::move(o), &e);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e;
  }
  static Status Import(Engine* eng, const std::string& bytes, ExchangeFormat f, OnConflict oc, ImportReport* r,
                       bool dry_run = false) {
    std::istringstream in(bytes);
    ImportRequest req;
    req.format = f;
    req.on_conflict = oc;
    req.dry_run = dry_run;
    return eng->Import(in, req, r);
  }
  static std::string Export(Engine* eng, ExchangeFormat f) {
    std::ostringstream out;
    size_t n = 0;
    std::string notice;
    EXPECT_TRUE(eng->Export(out, f, &n, &notice).ok());
    return out.str();
  }
  static size_t Count(Engine* eng) {
    std::vector<store::Entry> all;
    EXPECT_TRUE(eng->List({}, &all).ok());
    return all.size();
  }
  std::string dir_;
};

// Rekall's own archive imports whole; our export of it in Rekall's JSON is
// its entries.json byte for byte, and our archive holds the same.
TEST_F(ImportFormatsTest, FixtureArchiveImportsAndExportsAsRekallWroteIt) {
  std::string zip = FixtureZip();
  if (zip.empty()) GTEST_SKIP() << "fixture absent";
  std::string manifest, entries_json;
  ASSERT_TRUE(ReadRekallArchive(zip, {}, &manifest, &entries_json).ok());
  auto eng = Open();
  ImportReport r;
  Status s = Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kSkip, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.added, 120u);
  EXPECT_EQ(r.archive_version, "1.0");
  EXPECT_EQ(r.archive_entries, 120u);
  EXPECT_EQ(Count(eng.get()), 120u);
  EXPECT_EQ(Export(eng.get(), ExchangeFormat::kRekallJson), entries_json);

  std::string ours = Export(eng.get(), ExchangeFormat::kRekallZip);
  std::string m2, j2;
  ASSERT_TRUE(ReadRekallArchive(ours, {}, &m2, &j2).ok());
  EXPECT_EQ(j2, entries_json);
  RekallManifestInfo info;
  ASSERT_TRUE(CheckRekallManifest(m2, j2, &info).ok());
  EXPECT_EQ(info.entries_count, 120u);

  // And our archive imports into another database, to the same export.
  auto other = Open("other.db");
  ASSERT_TRUE(Import(other.get(), ours, ExchangeFormat::kRekallZip, OnConflict::kSkip, &r).ok());
  EXPECT_EQ(Export(other.get(), ExchangeFormat::kJsonLines), Export(eng.get(), ExchangeFormat::kJsonLines));

  std::string md = Export(eng.get(), ExchangeFormat::kMarkdown);
  EXPECT_EQ(md.rfind("# Rekall Knowledge Export\n", 0), 0u);
  EXPECT_NE(md.find("Total entries: 120\n"), std::string::npos);
  EXPECT_NE(md.find("## Bugs (36)\n"), std::string::npos);
}

// Rekall's strategies: skip keeps the stored entry, merge adds a copy of a
// changed one under a new id (identical ones skipped), replace makes every
// stored entry the file's; a dry run says so entry by entry and writes
// nothing; error refuses the import whole.
TEST_F(ImportFormatsTest, StrategiesAndDryRun) {
  std::string zip = FixtureZip();
  if (zip.empty()) GTEST_SKIP() << "fixture absent";
  auto eng = Open();
  ImportReport r;
  ASSERT_TRUE(Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kSkip, &r).ok());
  std::vector<store::Entry> all;
  ASSERT_TRUE(eng->List({}, &all).ok());
  std::string changed_id = all[0].id, deleted_id = all[1].id;
  store::Entry out;
  std::string notice;
  ASSERT_TRUE(eng->Patch(changed_id, [](store::Entry* e) { e->title += " (edited)"; return Status::OK(); }, &out,
                         &notice).ok());
  ASSERT_TRUE(eng->Delete(deleted_id).ok());
  std::string before = Export(eng.get(), ExchangeFormat::kJsonLines);

  Status s = Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kError, &r);
  EXPECT_NE(s.message().find("already exists"), std::string::npos) << s.ToString();

  ASSERT_TRUE(Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kMerge, &r, true).ok());
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.merged, 1u);
  EXPECT_EQ(r.skipped, 118u);
  ASSERT_EQ(r.items.size(), 120u);
  for (const auto& item : r.items) {
    if (item.id == changed_id) {
      EXPECT_EQ(item.action, ImportAction::kMerge);
      EXPECT_EQ(item.changed, std::vector<std::string>{"title"});
    } else if (item.id == deleted_id) {
      EXPECT_EQ(item.action, ImportAction::kAdd);
      EXPECT_FALSE(item.exists);
    } else {
      EXPECT_EQ(item.action, ImportAction::kSkip);
      EXPECT_TRUE(item.exists && item.changed.empty());
    }
  }
  EXPECT_EQ(Export(eng.get(), ExchangeFormat::kJsonLines), before);  // the dry run changed nothing

  ASSERT_TRUE(Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kSkip, &r).ok());
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.skipped, 119u);
  ASSERT_TRUE(eng->Get(changed_id, &out).ok());
  EXPECT_NE(out.title.find("(edited)"), std::string::npos);

  ASSERT_TRUE(Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kMerge, &r).ok());
  EXPECT_EQ(r.merged, 1u);
  EXPECT_EQ(r.skipped, 119u);
  EXPECT_EQ(Count(eng.get()), 121u);
  ASSERT_TRUE(eng->Get(changed_id, &out).ok());
  EXPECT_NE(out.title.find("(edited)"), std::string::npos);  // merge leaves the stored entry alone

  ASSERT_TRUE(Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kReplace, &r).ok());
  EXPECT_EQ(r.replaced, 120u);
  ASSERT_TRUE(eng->Get(changed_id, &out).ok());
  EXPECT_EQ(out.title.find("(edited)"), std::string::npos);
  EXPECT_EQ(Count(eng.get()), 121u);  // the merged copy stays
}

// Rekall's JSON export imports too; obsolete entries and their
// superseded_by survive both of Rekall's formats; Markdown is not imported.
TEST_F(ImportFormatsTest, RekallJsonRoundTripsObsoleteChains) {
  auto eng = Open();
  store::Entry a, b;
  a.title = "old way";
  a.type = "pattern";
  b.title = "new way";
  b.type = "pattern";
  std::string notice;
  ASSERT_TRUE(eng->Add(&a, &notice).ok());
  ASSERT_TRUE(eng->Add(&b, &notice).ok());
  store::Entry out;
  ASSERT_TRUE(eng->Patch(a.id, [&](store::Entry* e) {
                    e->status = "obsolete";
                    e->superseded_by = b.id;
                    return Status::OK();
                  }, &out, &notice).ok());
  for (ExchangeFormat f : {ExchangeFormat::kRekallJson, ExchangeFormat::kRekallZip}) {
    auto other = Open(std::string("other-") + ExchangeFormatName(f) + ".db");
    ImportReport r;
    Status s = Import(other.get(), Export(eng.get(), f), f, OnConflict::kSkip, &r);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(r.added, 2u);
    ASSERT_TRUE(other->Get(a.id, &out).ok());
    EXPECT_EQ(out.status, "obsolete");
    EXPECT_EQ(out.superseded_by, b.id);
  }
  ImportReport r;
  Status s = Import(eng.get(), Export(eng.get(), ExchangeFormat::kMarkdown), ExchangeFormat::kMarkdown,
                    OnConflict::kSkip, &r);
  EXPECT_TRUE(s.IsInvalidArgument());
}

// A damaged archive, or one bad entry in it, imports nothing.
TEST_F(ImportFormatsTest, BadArchivesImportNothing) {
  auto eng = Open();
  store::Entry good;
  good.id = "01JD0000000000000000000001";
  good.title = "good";
  good.type = "bug";
  good.created_at = good.updated_at = "2025-01-01T00:00:00";
  store::Entry bad = good;
  bad.id = "01JD0000000000000000000002";
  bad.confidence = 2;
  bad.created_at = "yesterday";
  std::string json = RekallEntriesJson({good, bad}, nullptr);
  std::string zip;
  ASSERT_TRUE(WriteRekallArchive(RekallManifestJson({good, bad}, json, "2025-01-01T00:00:00"), json, &zip).ok());
  ImportReport r;
  Status s = Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kSkip, &r);
  EXPECT_NE(s.message().find("entry 2"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("nothing was imported"), std::string::npos);
  EXPECT_EQ(Count(eng.get()), 0u);

  std::string one = RekallEntriesJson({good}, nullptr);
  ASSERT_TRUE(WriteRekallArchive(RekallManifestJson({good}, json, "2025-01-01T00:00:00"), one, &zip).ok());
  s = Import(eng.get(), zip, ExchangeFormat::kRekallZip, OnConflict::kSkip, &r);
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.ToString();
  s = Import(eng.get(), "PK\x03\x04 truncated", ExchangeFormat::kRekallZip, OnConflict::kSkip, &r);
  EXPECT_NE(s.message().find("not a Rekall archive"), std::string::npos) << s.ToString();
  s = Import(eng.get(), one, ExchangeFormat::kRekallZip, OnConflict::kSkip, &r);  // JSON named zip
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(Count(eng.get()), 0u);
}

}  // namespace
}  // namespace rekall

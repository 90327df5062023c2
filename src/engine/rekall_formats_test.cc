#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "engine/rekall_archive.h"
#include "engine/rekall_formats.h"

namespace rekall {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/" + name;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

store::Entry Sample(const std::string& id, const std::string& type, const std::string& title) {
  store::Entry e;
  e.id = id;
  e.type = type;
  e.title = title;
  e.content = "line one\n\"quoted\" \\ tab\t end";
  e.project = "web";
  e.tags = {"a", "b"};
  e.confidence = 3;
  e.created_at = "2025-07-06T02:00:00";
  e.updated_at = "2025-07-06T02:00:00";
  return e;
}

// Rekall's own archive: read, checked, parsed; and written again by us, its
// entries.json and manifest.json come out byte for byte as Rekall wrote them
// (so the checksum Rekall checks is the one we write).
TEST(RekallFormats, FixtureArchiveReadsAndIsReproducedByteForByte) {
  std::string zip = Slurp(Fixture("rekall-export.rekall.zip"));
  if (zip.empty()) GTEST_SKIP() << "fixture absent";
  std::string manifest, entries_json;
  ASSERT_TRUE(ReadRekallArchive(zip, {}, &manifest, &entries_json).ok());
  RekallManifestInfo info;
  Status s = CheckRekallManifest(manifest, entries_json, &info);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(info.format_version, "1.0");
  EXPECT_EQ(info.created_at, "2026-11-29T10:25:25.609574");
  EXPECT_EQ(info.entries_count, 120u);
  std::vector<store::Entry> entries;
  s = RekallEntriesFromJson(entries_json, &entries);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(entries.size(), 120u);
  for (const auto& e : entries) EXPECT_TRUE(store::ValidateEntry(e).ok()) << e.id;
  EXPECT_EQ(entries[0].extra["memory_type"], "episodic");
  EXPECT_EQ(RekallEntriesJson(entries, nullptr), entries_json);
  EXPECT_EQ(RekallManifestJson(entries, entries_json, info.created_at), manifest);
}

TEST(RekallFormats, ArchiveWrittenReadsBackWithManifestFirstAndMode0600) {
  std::vector<store::Entry> entries = {Sample("01B", "bug", "Caf\xc3\xa9 \xe2\x9c\x93"), Sample("01A", "pattern", "p")};
  std::string json = RekallEntriesJson(entries, nullptr);
  std::string manifest = RekallManifestJson(entries, json, "2026-01-02T03:04:05.000006");
  std::string zip;
  ASSERT_TRUE(WriteRekallArchive(manifest, json, &zip).ok());
  ASSERT_GT(zip.size(), 30u);
  EXPECT_EQ(zip.substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_EQ(zip.substr(30, 13), "manifest.json");  // the first member's name
  // Central directory: "made by" Unix (3), external attributes 0600 << 16.
  size_t cd = zip.find(std::string("PK\x01\x02", 4));
  ASSERT_NE(cd, std::string::npos);
  EXPECT_EQ(static_cast<unsigned char>(zip[cd + 5]), 3u);
  uint32_t attr = 0;
  for (int i = 3; i >= 0; --i) attr = (attr << 8) | static_cast<unsigned char>(zip[cd + 38 + i]);
  EXPECT_EQ(attr, 0600u << 16);
  std::string m2, j2;
  ASSERT_TRUE(ReadRekallArchive(zip, {}, &m2, &j2).ok());
  EXPECT_EQ(m2, manifest);
  EXPECT_EQ(j2, json);
  RekallManifestInfo info;
  ASSERT_TRUE(CheckRekallManifest(m2, j2, &info).ok());
  std::vector<store::Entry> back;
  ASSERT_TRUE(RekallEntriesFromJson(j2, &back).ok());
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].title, entries[0].title);
  EXPECT_EQ(back[0].content, entries[0].content);
  EXPECT_EQ(back[1].tags, entries[1].tags);
  // The manifest is ASCII (Rekall writes it escaped); the entries raw UTF-8.
  EXPECT_NE(json.find("Caf\xc3\xa9"), std::string::npos);
  EXPECT_NE(manifest.find("\"types\""), std::string::npos);
  for (char c : manifest) EXPECT_GE(static_cast<signed char>(c), 0);
}

TEST(RekallFormats, DamagedOrForeignArchivesAreRefused) {
  std::vector<store::Entry> entries = {Sample("01A", "bug", "t")};
  std::string json = RekallEntriesJson(entries, nullptr);
  std::string manifest = RekallManifestJson(entries, json, "2026-01-02T03:04:05");
  std::string zip, m, j;
  ASSERT_TRUE(WriteRekallArchive(manifest, json, &zip).ok());
  EXPECT_FALSE(ReadRekallArchive("", {}, &m, &j).ok());
  EXPECT_FALSE(ReadRekallArchive("not a zip at all", {}, &m, &j).ok());
  EXPECT_FALSE(ReadRekallArchive(zip.substr(0, zip.size() / 2), {}, &m, &j).ok());
  // A byte of the deflated entries.json flipped: the CRC (or inflate) fails.
  std::string bad = zip;
  size_t second = bad.find(std::string("PK\x03\x04", 4), 4);
  ASSERT_NE(second, std::string::npos);
  bad[second + 30 + 12 + 3] ^= 0x55;
  Status s = ReadRekallArchive(bad, {}, &m, &j);
  EXPECT_FALSE(s.ok());
  RekallManifestInfo info;
  EXPECT_NE(CheckRekallManifest(manifest, json + " ", &info).message().find("checksum mismatch"), std::string::npos);
  std::string v2 = manifest;
  v2.replace(v2.find("\"1.0\""), 5, "\"2.0\"");
  EXPECT_NE(CheckRekallManifest(v2, json, &info).message().find("version 2.0"), std::string::npos);
  EXPECT_FALSE(CheckRekallManifest("{}", json, &info).ok());
  EXPECT_FALSE(CheckRekallManifest("[", json, &info).ok());
}

TEST(RekallFormats, MembersPastTheBoundsAreRefusedBeforeInflating) {
  std::string big(4u << 20, '\0');  // 4 MiB that deflates to a few KiB
  std::string zip, m, j;
  ASSERT_TRUE(WriteRekallArchive("{}", big, &zip).ok());
  EXPECT_LT(zip.size(), 64u << 10);
  RekallArchiveLimits limits;
  limits.max_entries_json_bytes = 1u << 20;
  Status s = ReadRekallArchive(zip, limits, &m, &j);
  EXPECT_NE(s.message().find("entries.json is larger than 1 MiB"), std::string::npos) << s.ToString();
  limits = RekallArchiveLimits();
  limits.max_archive_bytes = 1024;
  EXPECT_NE(ReadRekallArchive(zip, limits, &m, &j).message().find("larger than"), std::string::npos);
  ASSERT_TRUE(ReadRekallArchive(zip, {}, &m, &j).ok());
  EXPECT_EQ(j, big);
}

TEST(RekallFormats, EntriesJsonErrorsNameTheEntry) {
  std::vector<store::Entry> out;
  EXPECT_FALSE(RekallEntriesFromJson("{}", &out).ok());
  EXPECT_FALSE(RekallEntriesFromJson("[", &out).ok());
  Status s = RekallEntriesFromJson(R"([{"title": "a", "type": "bug"}, {"title": "b"}])", &out);
  EXPECT_EQ(s.message(), "entry 2: field 'type' is missing");
  s = RekallEntriesFromJson(R"([{"title": "a", "type": "bug", "colour": 1}])", &out);
  EXPECT_EQ(s.message(), "entry 1: unknown field 'colour'");
  s = RekallEntriesFromJson(R"([{"title": "a", "type": "bug", "confidence": 9}])", &out);
  EXPECT_FALSE(s.ok());
  std::string deep = "[" + std::string(200, '[') + std::string(200, ']') + "]";
  EXPECT_FALSE(RekallEntriesFromJson(deep, &out).ok());
  ASSERT_TRUE(RekallEntriesFromJson(R"([{"title": "a", "type": "bug", "content": null, "tags": null}])", &out).ok());
  EXPECT_EQ(out[0].content, "");
  EXPECT_TRUE(out[0].tags.empty());
}

TEST(RekallFormats, MarkdownAsRekallWritesIt) {
  store::Entry a = Sample("01A", "pattern", "A pattern");
  store::Entry b = Sample("01B", "bug", "A bug");
  b.status = "obsolete";
  b.superseded_by = "01A";
  b.project.reset();
  b.tags.clear();
  b.content.clear();
  b.confidence = 1;
  std::string md = RekallMarkdown({a, b}, "2026-01-02 03:04");
  EXPECT_EQ(md,
            "# Rekall Knowledge Export\n\nGenerated: 2026-01-02 03:04\nTotal entries: 2\n\n---\n\n"
            "## Bugs (1)\n\n### A bug\n\n- **ID**: `01B`\n- **Confidence**: \u2605\u2606\u2606\u2606\u2606\n"
            "- **Created**: 2025-07-06\n- **Status**: OBSOLETE\n- **Replaced by**: 01A\n\n---\n\n"
            "## Patterns (1)\n\n### A pattern\n\n- **ID**: `01A`\n- **Confidence**: \u2605\u2605\u2605\u2606\u2606\n"
            "- **Project**: web\n- **Tags**: a, b\n- **Created**: 2025-07-06\n\n" +
                a.content + "\n\n---\n");
}

TEST(RekallFormats, ChecksumIsSha256) {
  EXPECT_EQ(RekallChecksum(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(RekallChecksum("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace rekall

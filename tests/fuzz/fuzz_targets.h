// Fuzz targets of the parsers that take outside input. Each must survive
// any bytes: no crash, no sanitizer report, and its documented invariant.
// They run two ways: under libFuzzer (scripts/fuzz.sh, clang), and in the
// test suite as a deterministic mutation run over seed inputs (fuzz_test.cc),
// which CI also runs under ASan+UBSan.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rekall::fuzz {

// WordPiece tokenizer on arbitrary bytes (invalid UTF-8 included).
void Tokenizer(const uint8_t* data, size_t size);
// JSON-RPC line parsing, line framing and tool-argument checking.
void JsonRpc(const uint8_t* data, size_t size);
// Keyword search with an arbitrary query: always ok for valid UTF-8.
void KeywordQuery(const uint8_t* data, size_t size);
// An import line (entry JSON) parsed and validated.
void ImportLine(const uint8_t* data, size_t size);
// A .rekall.zip archive (or, when the bytes are no zip, Rekall's JSON array
// of entries) read with its bounds, its manifest checked and its entries
// parsed: entries that validate come back the same through our writer.
void RekallArchive(const uint8_t* data, size_t size);
// A database file of arbitrary bytes opened, migrated and read.
void DatabaseFile(const uint8_t* data, size_t size);
// The MCP server's whole message handling (framing, parsing, dispatch,
// schema checks, tool calls, cancellation, shutdown) on arbitrary input,
// with the fake tools: Run returns 0 and every output line is one JSON-RPC
// response.
void McpServer(const uint8_t* data, size_t size);

}  // namespace rekall::fuzz

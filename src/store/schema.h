// DDL of the schema we create in a new database: Rekall's own, then ours.
#pragma once

#include <string>

namespace rekall::store {

// Rekall's schema at user_version 12, statement for statement.
const char* RekallSchemaV12();

// Rekall's trigger `name` from that schema as SQLite keeps it in
// sqlite_master ("CREATE TRIGGER name ... END": no IF NOT EXISTS, no final
// semicolon); empty for a name it does not have.
std::string RekallTriggerSql(const std::string& name);

// Rekall's `embeddings` table and its indexes, as Rekall's migration 3
// creates them (IF NOT EXISTS), for databases older than that.
const char* RekallEmbeddingsTable();

// Our additive tables. Idempotent.
const char* EngineSchema();

}  // namespace rekall::store

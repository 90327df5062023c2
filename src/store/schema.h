// DDL of the schema we create in a new database: Rekall's own, then ours.
#pragma once

namespace rekall::store {

// Rekall's schema at user_version 12, statement for statement.
const char* RekallSchemaV12();

// Rekall's `embeddings` table and its indexes, as Rekall's migration 3
// creates them (IF NOT EXISTS), for databases older than that.
const char* RekallEmbeddingsTable();

// Our additive tables. Idempotent.
const char* EngineSchema();

}  // namespace rekall::store

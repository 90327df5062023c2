// DDL of the schema we create in a new database: Rekall's own, then ours.
#pragma once

namespace rekall::store {

// Rekall's schema at user_version 12, statement for statement.
const char* RekallSchemaV12();

// Our additive tables. Idempotent.
const char* EngineSchema();

}  // namespace rekall::store

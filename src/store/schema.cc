#include "store/schema.h"

namespace rekall::store {

const char* RekallEmbeddingsTable() {
  return R"SQL(
CREATE TABLE IF NOT EXISTS embeddings (
            id TEXT PRIMARY KEY,
            entry_id TEXT NOT NULL,
            embedding_type TEXT NOT NULL,
            vector BLOB NOT NULL,
            dimensions INTEGER NOT NULL,
            model_name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            FOREIGN KEY (entry_id) REFERENCES entries(id) ON DELETE CASCADE,
            CHECK (embedding_type IN ('summary', 'context')),
            CHECK (dimensions IN (128, 384, 768)),
            UNIQUE(entry_id, embedding_type)
        );
CREATE INDEX IF NOT EXISTS idx_embeddings_entry ON embeddings(entry_id);
CREATE INDEX IF NOT EXISTS idx_embeddings_type ON embeddings(embedding_type);
)SQL";
}

const char* EngineSchema() {
  // rekall_engine_meta: our schema version and bookkeeping, beside Rekall's
  // own `metadata` table, which we leave to Rekall.
  return R"SQL(
CREATE TABLE IF NOT EXISTS rekall_engine_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)SQL";
}

}  // namespace rekall::store

#include "store/schema.h"

namespace rekall::store {

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

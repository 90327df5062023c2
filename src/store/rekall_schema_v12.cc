// Rekall's schema at its latest version (PRAGMA user_version = 12), as
// Rekall itself creates it. A database we create must open in Rekall, so the
// DDL is Rekall's own, statement for statement (read from a database written
// by Rekall); our own additions live in schema.cc and are additive.
#include "store/schema.h"

namespace rekall::store {

const char* RekallSchemaV12() {
  return R"SQL(
CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    content TEXT,
    type TEXT NOT NULL,
    project TEXT,
    confidence INTEGER DEFAULT 2,
    status TEXT DEFAULT 'active',
    superseded_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, memory_type TEXT DEFAULT 'episodic', last_accessed TEXT, access_count INTEGER DEFAULT 0, consolidation_score REAL DEFAULT 0.0, next_review TEXT, review_interval INTEGER DEFAULT 1, ease_factor REAL DEFAULT 2.5, context_compressed BLOB, context_structured TEXT, context_blob BLOB, centrality_score REAL DEFAULT 0.0,

    FOREIGN KEY (superseded_by) REFERENCES entries(id),
    CHECK (type IN ('bug', 'pattern', 'decision', 'pitfall', 'config', 'reference')),
    CHECK (confidence BETWEEN 0 AND 5),
    CHECK (status IN ('active', 'obsolete'))
);
CREATE INDEX idx_entries_type ON entries(type);
CREATE INDEX idx_entries_project ON entries(project);
CREATE INDEX idx_entries_status ON entries(status);
CREATE INDEX idx_entries_created ON entries(created_at);
CREATE TABLE tags (
    entry_id TEXT NOT NULL,
    tag TEXT NOT NULL,

    PRIMARY KEY (entry_id, tag),
    FOREIGN KEY (entry_id) REFERENCES entries(id) ON DELETE CASCADE
);
CREATE INDEX idx_tags_tag ON tags(tag);
CREATE VIRTUAL TABLE entries_fts USING fts5(
    id UNINDEXED,
    title,
    content,
    tags,
    tokenize = 'porter unicode61'
);
CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts(id, title, content, tags)
    VALUES (
        NEW.id,
        NEW.title,
        NEW.content,
        (SELECT GROUP_CONCAT(tag, ' ') FROM tags WHERE entry_id = NEW.id)
    );
END;
CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
    DELETE FROM entries_fts WHERE id = OLD.id;
END;
CREATE TRIGGER entries_au AFTER UPDATE ON entries BEGIN
    DELETE FROM entries_fts WHERE id = OLD.id;
    INSERT INTO entries_fts(id, title, content, tags)
    VALUES (
        NEW.id,
        NEW.title,
        NEW.content,
        (SELECT GROUP_CONCAT(tag, ' ') FROM tags WHERE entry_id = NEW.id)
    );
END;
CREATE INDEX idx_entries_memory_type ON entries(memory_type);
CREATE INDEX idx_entries_next_review ON entries(next_review);
CREATE INDEX idx_entries_last_accessed ON entries(last_accessed);
CREATE TABLE links (
            id TEXT PRIMARY KEY,
            source_id TEXT NOT NULL,
            target_id TEXT NOT NULL,
            relation_type TEXT NOT NULL,
            created_at TEXT NOT NULL, reason TEXT,
            FOREIGN KEY (source_id) REFERENCES entries(id) ON DELETE CASCADE,
            FOREIGN KEY (target_id) REFERENCES entries(id) ON DELETE CASCADE,
            CHECK (relation_type IN ('related', 'supersedes', 'derived_from', 'contradicts')),
            UNIQUE(source_id, target_id, relation_type),
            CHECK (source_id != target_id)
        );
CREATE INDEX idx_links_source ON links(source_id);
CREATE INDEX idx_links_target ON links(target_id);
CREATE INDEX idx_links_type ON links(relation_type);
CREATE TABLE embeddings (
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
CREATE INDEX idx_embeddings_entry ON embeddings(entry_id);
CREATE INDEX idx_embeddings_type ON embeddings(embedding_type);
CREATE TABLE suggestions (
            id TEXT PRIMARY KEY,
            suggestion_type TEXT NOT NULL,
            entry_ids TEXT NOT NULL,
            reason TEXT,
            score REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            created_at TEXT NOT NULL,
            resolved_at TEXT,
            CHECK (suggestion_type IN ('link', 'generalize')),
            CHECK (status IN ('pending', 'accepted', 'rejected')),
            CHECK (score >= 0.0 AND score <= 1.0)
        );
CREATE INDEX idx_suggestions_status ON suggestions(status);
CREATE INDEX idx_suggestions_type ON suggestions(suggestion_type);
CREATE INDEX idx_suggestions_created ON suggestions(created_at);
CREATE TABLE metadata (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
CREATE INDEX idx_entries_context ON entries(context_structured);
CREATE TABLE context_keywords (
            entry_id TEXT NOT NULL,
            keyword TEXT NOT NULL,
            FOREIGN KEY (entry_id) REFERENCES entries(id) ON DELETE CASCADE,
            PRIMARY KEY (entry_id, keyword)
        );
CREATE INDEX idx_context_keywords ON context_keywords(keyword);
CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            domain TEXT NOT NULL,
            url_pattern TEXT,
            usage_count INTEGER DEFAULT 0,
            last_used TEXT,
            personal_score REAL DEFAULT 50.0,
            reliability TEXT DEFAULT 'B',
            decay_rate TEXT DEFAULT 'medium',
            last_verified TEXT,
            status TEXT DEFAULT 'active',
            created_at TEXT NOT NULL, is_seed INTEGER DEFAULT 0, is_promoted INTEGER DEFAULT 0, promoted_at TEXT, role TEXT DEFAULT 'unclassified', seed_origin TEXT, citation_quality_factor REAL DEFAULT 0.0, ai_type TEXT, ai_tags TEXT, ai_summary TEXT, ai_confidence REAL, enrichment_status TEXT DEFAULT 'none', enrichment_validated_at TEXT, enrichment_validated_by TEXT,
            CHECK (reliability IN ('A', 'B', 'C')),
            CHECK (decay_rate IN ('fast', 'medium', 'slow')),
            CHECK (status IN ('active', 'inaccessible', 'archived'))
        );
CREATE TABLE entry_sources (
            id TEXT PRIMARY KEY,
            entry_id TEXT NOT NULL,
            source_id TEXT,
            source_type TEXT NOT NULL,
            source_ref TEXT NOT NULL,
            note TEXT,
            created_at TEXT NOT NULL,
            FOREIGN KEY (entry_id) REFERENCES entries(id) ON DELETE CASCADE,
            FOREIGN KEY (source_id) REFERENCES sources(id) ON DELETE SET NULL,
            CHECK (source_type IN ('theme', 'url', 'file'))
        );
CREATE INDEX idx_sources_domain ON sources(domain);
CREATE INDEX idx_sources_score ON sources(personal_score DESC);
CREATE INDEX idx_sources_status ON sources(status);
CREATE INDEX idx_entry_sources_entry ON entry_sources(entry_id);
CREATE INDEX idx_entry_sources_source ON entry_sources(source_id);
CREATE INDEX idx_entry_sources_type ON entry_sources(source_type);
CREATE INDEX idx_sources_is_seed ON sources(is_seed);
CREATE INDEX idx_sources_is_promoted ON sources(is_promoted);
CREATE INDEX idx_sources_role ON sources(role);
CREATE TABLE source_themes (
            source_id TEXT NOT NULL,
            theme TEXT NOT NULL,
            PRIMARY KEY (source_id, theme),
            FOREIGN KEY (source_id) REFERENCES sources(id) ON DELETE CASCADE
        );
CREATE INDEX idx_source_themes_theme ON source_themes(theme);
CREATE TABLE known_domains (
            domain TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK(role IN ('hub', 'authority')),
            notes TEXT,
            created_at TEXT NOT NULL
        );
CREATE TABLE saved_filters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            filter_json TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (datetime('now'))
        );
CREATE INDEX idx_saved_filters_name ON saved_filters(name);
CREATE TABLE sources_inbox (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            domain TEXT,
            cli_source TEXT NOT NULL,
            project TEXT,
            conversation_id TEXT,
            user_query TEXT,
            assistant_snippet TEXT,
            surrounding_text TEXT,
            captured_at TEXT DEFAULT (datetime('now')),
            import_source TEXT,
            raw_json TEXT,
            is_valid INTEGER DEFAULT 1,
            validation_error TEXT,
            enriched_at TEXT
        );
CREATE INDEX idx_inbox_url ON sources_inbox(url);
CREATE INDEX idx_inbox_domain ON sources_inbox(domain);
CREATE INDEX idx_inbox_cli ON sources_inbox(cli_source);
CREATE INDEX idx_inbox_captured ON sources_inbox(captured_at);
CREATE INDEX idx_inbox_valid ON sources_inbox(is_valid);
CREATE INDEX idx_inbox_enriched ON sources_inbox(enriched_at);
CREATE TABLE sources_staging (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            domain TEXT NOT NULL,
            title TEXT,
            description TEXT,
            content_type TEXT,
            language TEXT,
            last_verified TEXT,
            is_accessible INTEGER DEFAULT 1,
            http_status INTEGER,
            citation_count INTEGER DEFAULT 1,
            project_count INTEGER DEFAULT 1,
            projects_list TEXT,
            first_seen TEXT,
            last_seen TEXT,
            promotion_score REAL DEFAULT 0.0,
            inbox_ids TEXT,
            enriched_at TEXT,
            promoted_at TEXT,
            promoted_to TEXT,
            FOREIGN KEY (promoted_to) REFERENCES sources(id) ON DELETE SET NULL
        );
CREATE INDEX idx_staging_domain ON sources_staging(domain);
CREATE INDEX idx_staging_score ON sources_staging(promotion_score DESC);
CREATE INDEX idx_staging_promoted ON sources_staging(promoted_at);
CREATE INDEX idx_staging_content_type ON sources_staging(content_type);
CREATE TABLE connector_imports (
            connector TEXT PRIMARY KEY,
            last_import TEXT,
            last_file_marker TEXT,
            entries_imported INTEGER DEFAULT 0,
            errors_count INTEGER DEFAULT 0
        );
CREATE INDEX idx_entries_centrality ON entries(centrality_score DESC);
CREATE INDEX idx_sources_enrichment_status ON sources(enrichment_status);
CREATE INDEX idx_sources_ai_confidence ON sources(ai_confidence);
)SQL";
}

std::string RekallTriggerSql(const std::string& name) {
  const std::string schema = RekallSchemaV12();
  const size_t at = schema.find("CREATE TRIGGER " + name + " ");
  const size_t end = at == std::string::npos ? at : schema.find("\nEND;", at);
  if (end == std::string::npos) return "";
  return schema.substr(at, end + 4 - at);
}

}  // namespace rekall::store

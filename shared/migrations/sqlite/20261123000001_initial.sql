-- SQLite equivalent of migrations/postgres: same tables, columns and constraints.

CREATE TABLE article (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    site           TEXT NOT NULL,
    external_id    TEXT NOT NULL,
    title          TEXT,
    path           TEXT,
    published_at   TEXT,
    exclude_reason TEXT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (site, external_id)
);

CREATE TABLE model (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    site       TEXT NOT NULL,
    type       TEXT NOT NULL CHECK (type IN ('article', 'popularity')),
    status     TEXT NOT NULL CHECK (status IN ('pending', 'current', 'stale', 'failed')),
    run_id     TEXT NOT NULL,
    metrics    TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (site, type, run_id)
);

CREATE UNIQUE INDEX model_one_current ON model (site, type) WHERE status = 'current';

CREATE TABLE recommendation (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id               INTEGER NOT NULL REFERENCES model (id) ON DELETE CASCADE,
    source_entity_id       TEXT NOT NULL,
    recommended_article_id INTEGER NOT NULL REFERENCES article (id),
    score                  REAL NOT NULL CHECK (score >= 0 AND score < 10),
    created_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (model_id, source_entity_id, recommended_article_id)
);

CREATE INDEX recommendation_source_model ON recommendation (source_entity_id, model_id);

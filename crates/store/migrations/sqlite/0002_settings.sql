-- Small named settings the server keeps for itself (e.g. the admin password's argon2 hash).
-- Keep in step with ../postgres/0002_settings.sql.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

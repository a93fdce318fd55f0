-- Small named settings the server keeps for itself (e.g. the admin password's argon2 hash).
-- Keep in step with ../sqlite/0002_settings.sql.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Switchboard schema, SQLite dialect. Keep in step with ../postgres/0001_init.sql:
-- same tables, columns and constraints; only the types differ.
-- Times are UTC unix milliseconds (INTEGER), money is integer micro-dollars,
-- ids are UUIDv7 stored as 16-byte BLOBs.

CREATE TABLE users (
    id               BLOB PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    email            TEXT,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    balance_cash     INTEGER NOT NULL DEFAULT 0,
    credit_limit     INTEGER NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    limit_rpm        INTEGER,
    limit_tpm        INTEGER,
    limit_concurrent INTEGER,
    budget_micros    INTEGER,
    budget_period    TEXT CHECK (budget_period IN ('day', 'week', 'month', 'total')),
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE api_keys (
    id               BLOB PRIMARY KEY NOT NULL,
    user_id          BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    prefix           TEXT NOT NULL,
    hash             BLOB NOT NULL UNIQUE,
    expires_at       INTEGER,
    allowed_models   TEXT NOT NULL DEFAULT '[]',
    limit_rpm        INTEGER,
    limit_tpm        INTEGER,
    limit_concurrent INTEGER,
    budget_micros    INTEGER,
    budget_period    TEXT CHECK (budget_period IN ('day', 'week', 'month', 'total')),
    created_at       INTEGER NOT NULL,
    revoked_at       INTEGER,
    last_used_at     INTEGER
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

-- No foreign key on user_id: the audit trail outlives a deleted user.
CREATE TABLE balance_ledger (
    id                 BLOB PRIMARY KEY NOT NULL,
    user_id            BLOB NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('deposit', 'withdraw', 'credit_limit', 'charge', 'refund')),
    amount             INTEGER NOT NULL,
    balance_after      INTEGER NOT NULL,
    credit_limit_after INTEGER NOT NULL,
    note               TEXT,
    actor              TEXT,
    request_id         TEXT,
    created_at         INTEGER NOT NULL
);
CREATE INDEX balance_ledger_user ON balance_ledger (user_id, created_at);

CREATE TABLE providers (
    id         TEXT PRIMARY KEY NOT NULL,
    config     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- provider_id may name a provider from the config file as well as one in `providers`,
-- so there is no foreign key; deleting a provider deletes its credentials explicitly.
CREATE TABLE credentials (
    id          BLOB PRIMARY KEY NOT NULL,
    provider_id TEXT NOT NULL,
    label       TEXT NOT NULL,
    ciphertext  BLOB NOT NULL,
    nonce       BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX credentials_provider ON credentials (provider_id);

CREATE TABLE virtual_models (
    name       TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('model', 'combo')),
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE model_prices (
    provider             TEXT NOT NULL,
    model                TEXT NOT NULL,
    input_per_mtok       INTEGER NOT NULL,
    output_per_mtok      INTEGER NOT NULL,
    cache_read_per_mtok  INTEGER NOT NULL,
    cache_write_per_mtok INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (provider, model)
);

-- Raw usage: one row per request. No foreign keys: usage outlives deleted keys and users,
-- and the batch writer must never fail on a key deleted a moment ago.
CREATE TABLE usage_records (
    id                 INTEGER PRIMARY KEY,
    created_at         INTEGER NOT NULL,
    request_id         TEXT NOT NULL,
    key_id             BLOB,
    user_id            BLOB,
    requested_model    TEXT NOT NULL,
    provider           TEXT,
    upstream_model     TEXT,
    dialect_in         TEXT NOT NULL,
    dialect_out        TEXT,
    input_tokens       INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    reasoning_tokens   INTEGER NOT NULL,
    cost_micros        INTEGER NOT NULL,
    latency_ms         INTEGER NOT NULL,
    ttft_ms            INTEGER,
    status             INTEGER NOT NULL,
    attempts           INTEGER NOT NULL,
    cache_hit          BOOLEAN NOT NULL
);
CREATE INDEX usage_records_time ON usage_records (created_at);
CREATE INDEX usage_records_key ON usage_records (key_id, created_at);
CREATE INDEX usage_records_user ON usage_records (user_id, created_at);
CREATE INDEX usage_records_request ON usage_records (request_id);

-- Hourly rollups, maintained in the same transaction as each usage batch. `hour` is the
-- start of the UTC hour in unix ms; a request without key or user is filed under the nil
-- UUID and one that reached no provider under provider '', so the primary key never holds
-- NULL; `model` is the requested model.
CREATE TABLE usage_hourly (
    hour               INTEGER NOT NULL,
    key_id             BLOB NOT NULL,
    user_id            BLOB NOT NULL,
    model              TEXT NOT NULL,
    provider           TEXT NOT NULL,
    requests           INTEGER NOT NULL,
    errors             INTEGER NOT NULL,
    cache_hits         INTEGER NOT NULL,
    input_tokens       INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    reasoning_tokens   INTEGER NOT NULL,
    cost_micros        INTEGER NOT NULL,
    latency_ms_sum     INTEGER NOT NULL,
    PRIMARY KEY (hour, key_id, user_id, model, provider)
);
CREATE INDEX usage_hourly_key ON usage_hourly (key_id, hour);
CREATE INDEX usage_hourly_user ON usage_hourly (user_id, hour);

CREATE TABLE request_logs (
    id            INTEGER PRIMARY KEY,
    request_id    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    status        INTEGER NOT NULL,
    request_body  TEXT,
    response_body TEXT
);
CREATE INDEX request_logs_time ON request_logs (created_at);
CREATE INDEX request_logs_request ON request_logs (request_id);

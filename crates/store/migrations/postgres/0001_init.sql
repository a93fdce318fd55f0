-- Switchboard schema, PostgreSQL dialect. Keep in step with ../sqlite/0001_init.sql:
-- same tables, columns and constraints; only the types differ.
-- Times are UTC unix milliseconds (BIGINT), money is integer micro-dollars,
-- ids are UUIDv7 in native UUID columns.

CREATE TABLE users (
    id               UUID PRIMARY KEY,
    name             TEXT NOT NULL,
    email            TEXT,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    balance_cash     BIGINT NOT NULL DEFAULT 0,
    credit_limit     BIGINT NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    limit_rpm        BIGINT,
    limit_tpm        BIGINT,
    limit_concurrent BIGINT,
    budget_micros    BIGINT,
    budget_period    TEXT CHECK (budget_period IN ('day', 'week', 'month', 'total')),
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE api_keys (
    id               UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    prefix           TEXT NOT NULL,
    hash             BYTEA NOT NULL UNIQUE,
    expires_at       BIGINT,
    allowed_models   JSONB NOT NULL DEFAULT '[]',
    limit_rpm        BIGINT,
    limit_tpm        BIGINT,
    limit_concurrent BIGINT,
    budget_micros    BIGINT,
    budget_period    TEXT CHECK (budget_period IN ('day', 'week', 'month', 'total')),
    created_at       BIGINT NOT NULL,
    revoked_at       BIGINT,
    last_used_at     BIGINT
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

-- No foreign key on user_id: the audit trail outlives a deleted user.
CREATE TABLE balance_ledger (
    id                 UUID PRIMARY KEY,
    user_id            UUID NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('deposit', 'withdraw', 'credit_limit', 'charge', 'refund')),
    amount             BIGINT NOT NULL,
    balance_after      BIGINT NOT NULL,
    credit_limit_after BIGINT NOT NULL,
    note               TEXT,
    actor              TEXT,
    request_id         TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX balance_ledger_user ON balance_ledger (user_id, created_at);

CREATE TABLE providers (
    id         TEXT PRIMARY KEY,
    config     JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- provider_id may name a provider from the config file as well as one in `providers`,
-- so there is no foreign key; deleting a provider deletes its credentials explicitly.
CREATE TABLE credentials (
    id          UUID PRIMARY KEY,
    provider_id TEXT NOT NULL,
    label       TEXT NOT NULL,
    ciphertext  BYTEA NOT NULL,
    nonce       BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX credentials_provider ON credentials (provider_id);

CREATE TABLE virtual_models (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('model', 'combo')),
    definition JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE model_prices (
    provider             TEXT NOT NULL,
    model                TEXT NOT NULL,
    input_per_mtok       BIGINT NOT NULL,
    output_per_mtok      BIGINT NOT NULL,
    cache_read_per_mtok  BIGINT NOT NULL,
    cache_write_per_mtok BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (provider, model)
);

-- Raw usage: one row per request. No foreign keys: usage outlives deleted keys and users,
-- and the batch writer must never fail on a key deleted a moment ago.
CREATE TABLE usage_records (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at         BIGINT NOT NULL,
    request_id         TEXT NOT NULL,
    key_id             UUID,
    user_id            UUID,
    requested_model    TEXT NOT NULL,
    provider           TEXT,
    upstream_model     TEXT,
    dialect_in         TEXT NOT NULL,
    dialect_out        TEXT,
    input_tokens       BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    output_tokens      BIGINT NOT NULL,
    reasoning_tokens   BIGINT NOT NULL,
    cost_micros        BIGINT NOT NULL,
    latency_ms         BIGINT NOT NULL,
    ttft_ms            BIGINT,
    status             BIGINT NOT NULL,
    attempts           BIGINT NOT NULL,
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
    hour               BIGINT NOT NULL,
    key_id             UUID NOT NULL,
    user_id            UUID NOT NULL,
    model              TEXT NOT NULL,
    provider           TEXT NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    cache_hits         BIGINT NOT NULL,
    input_tokens       BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    output_tokens      BIGINT NOT NULL,
    reasoning_tokens   BIGINT NOT NULL,
    cost_micros        BIGINT NOT NULL,
    latency_ms_sum     BIGINT NOT NULL,
    PRIMARY KEY (hour, key_id, user_id, model, provider)
);
CREATE INDEX usage_hourly_key ON usage_hourly (key_id, hour);
CREATE INDEX usage_hourly_user ON usage_hourly (user_id, hour);

CREATE TABLE request_logs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    status        BIGINT NOT NULL,
    request_body  TEXT,
    response_body TEXT
);
CREATE INDEX request_logs_time ON request_logs (created_at);
CREATE INDEX request_logs_request ON request_logs (request_id);

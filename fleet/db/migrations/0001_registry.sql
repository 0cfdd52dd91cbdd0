-- The registry: every gateway the fleet knows, its credentials and what it last said.
-- Times are bigint milliseconds since 1970-01-01 UTC.
CREATE TABLE gateways (
  id                  text PRIMARY KEY,
  site                text NOT NULL DEFAULT '',
  labels              jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_ms          bigint NOT NULL,
  revoked_ms          bigint,
  -- MQTT password hashes: scrypt for the embedded broker, Mosquitto's own format for
  -- an external Mosquitto (a hash cannot be turned into another, so both are kept).
  password_scrypt     text NOT NULL,
  password_mosquitto  text NOT NULL,
  -- Reported by the gateway (state, health, update reports).
  online              boolean NOT NULL DEFAULT false,
  state_clean         boolean,
  state_ms            bigint,
  last_seen_ms        bigint,
  runtime_version     text,
  hardware            jsonb,
  releases            jsonb NOT NULL DEFAULT '{}'::jsonb,
  health_status       text,
  health_reasons      jsonb NOT NULL DEFAULT '[]'::jsonb,
  health              jsonb,
  health_ms           bigint,
  telemetry_records   bigint NOT NULL DEFAULT 0,
  telemetry_last_ms   bigint
);
CREATE INDEX gateways_site ON gateways (site);
CREATE INDEX gateways_labels ON gateways USING gin (labels jsonb_path_ops);

-- Each step of each model update, as the gateway reported it; the newest few hundred
-- per gateway are kept.
CREATE TABLE update_steps (
  gateway_id   text NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
  seq          bigserial,
  model        text,
  target       text NOT NULL,
  release      bigint,
  version      text,
  step         text NOT NULL,
  outcome      text NOT NULL,
  reason       text,
  ts           bigint NOT NULL,
  received_ms  bigint NOT NULL,
  PRIMARY KEY (gateway_id, seq)
);

-- Alerts, vision events and decision summaries from gateways. A gateway may send a
-- record again after a crash: the key (gateway, record id) stores it once.
CREATE TABLE events (
  gateway_id   text NOT NULL,
  record_id    text NOT NULL,
  kind         text NOT NULL,
  class        text NOT NULL,
  stream       text NOT NULL,
  model        text,
  ts           bigint NOT NULL,
  received_ms  bigint NOT NULL,
  data         jsonb NOT NULL,
  -- The size of data before compression: pages of events are cut by it.
  data_bytes   integer NOT NULL,
  PRIMARY KEY (gateway_id, record_id)
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_gateway_ts ON events (gateway_id, ts);
-- Retention goes by when the fleet received an event (a gateway's clock may be wrong);
-- received_ms grows with insertion order, so a BRIN index serves it at almost no cost.
CREATE INDEX events_received ON events USING brin (received_ms);

-- Operator tokens for the HTTP API, stored as SHA-256 of the token.
CREATE TABLE operator_tokens (
  id          text PRIMARY KEY,
  token_hash  text NOT NULL UNIQUE,
  role        text NOT NULL CHECK (role IN ('read-write', 'read-only')),
  name        text NOT NULL,
  created_ms  bigint NOT NULL,
  revoked_ms  bigint
);

-- The fleet's own settings and secrets (its MQTT password hashes, ...).
CREATE TABLE fleet_settings (
  key    text PRIMARY KEY,
  value  jsonb NOT NULL
);

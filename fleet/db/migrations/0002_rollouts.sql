-- Rollouts: a signed release going out to a set of gateways in waves. The row is the state
-- machine; a fleet instance holding the `rollouts` lease advances it.
CREATE TABLE rollouts (
  id                  text PRIMARY KEY,
  name                text NOT NULL,
  target              text NOT NULL,
  model               text NOT NULL,
  release             bigint NOT NULL,
  version             text NOT NULL,
  selector            jsonb NOT NULL,
  waves               jsonb NOT NULL,
  gates               jsonb NOT NULL,
  rate_per_minute     integer NOT NULL,
  windows             jsonb NOT NULL DEFAULT '[]'::jsonb,
  gateway_timeout_ms  bigint NOT NULL,
  -- The release's probation: a wave is judged only after its gateways' probations end.
  probation_ms        bigint NOT NULL DEFAULT 0,
  state               text NOT NULL CHECK (state IN ('running', 'paused', 'aborted', 'completed')),
  current_wave        integer NOT NULL DEFAULT 0,
  reason              text,
  created_ms          bigint NOT NULL,
  updated_ms          bigint NOT NULL
);
CREATE INDEX rollouts_state ON rollouts (state);

-- Each gateway of a rollout, its wave and where it stands.
CREATE TABLE rollout_targets (
  rollout_id   text NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
  gateway_id   text NOT NULL,
  wave         integer NOT NULL,
  -- active: running the release; confirmed: and its probation passed.
  state        text NOT NULL CHECK (state IN ('pending', 'notified', 'active', 'confirmed', 'failed', 'rolled-back', 'timed-out', 'offline')),
  notified_ms  bigint,
  outcome_ms   bigint,
  detail       text,
  PRIMARY KEY (rollout_id, gateway_id)
);
CREATE INDEX rollout_targets_wave ON rollout_targets (rollout_id, wave, state);

-- Every decision of every rollout, in order.
CREATE TABLE rollout_events (
  rollout_id  text NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
  seq         bigserial,
  ts          bigint NOT NULL,
  kind        text NOT NULL,
  detail      jsonb NOT NULL,
  PRIMARY KEY (rollout_id, seq)
);

-- Leases: which fleet instance does a job that only one may do at a time.
CREATE TABLE leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_ms  bigint NOT NULL
);

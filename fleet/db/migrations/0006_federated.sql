-- Federated learning (fleet/federated/): a task trains one model over rounds; the row is the
-- state machine the round service advances, so a restarted fleet continues it.
CREATE TABLE learning_tasks (
  id                text PRIMARY KEY,
  -- The checked task definition (fleet/federated/round/task.ts), defaults filled in.
  definition        jsonb NOT NULL,
  -- The service's schedule around the definition: { rounds, roundIntervalMs }.
  schedule          jsonb NOT NULL,
  state             text NOT NULL CHECK (state IN ('active', 'stopped', 'finished')),
  -- Why it stopped or finished (an operator's stop, the rounds done, the privacy budget spent).
  reason            text,
  created_ms        bigint NOT NULL,
  updated_ms        bigint NOT NULL,
  -- The release the next round starts from, as the announcement names it (GlobalModelRef).
  global_model      jsonb NOT NULL,
  next_round        bigint NOT NULL DEFAULT 1,
  -- Rounds closed so far (those that opened: a round abandoned by a restart counts).
  rounds_closed     integer NOT NULL DEFAULT 0,
  -- PrivacyBudget.history: what the task has spent, to rebuild its budget after a restart.
  privacy_history   jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX learning_tasks_state ON learning_tasks (state);

-- Each round of a task, from its opening; the record (fleet/federated/round/record.ts) at its close.
CREATE TABLE learning_rounds (
  task_id              text NOT NULL REFERENCES learning_tasks (id) ON DELETE CASCADE,
  round                bigint NOT NULL,
  opened_ms            bigint NOT NULL,
  deadline_ms          bigint NOT NULL,
  closed_ms            bigint,
  -- open: still taking updates; abandoned: the fleet stopped while it was open.
  outcome              text NOT NULL CHECK (outcome IN ('open', 'model', 'no-model', 'abandoned')),
  global_model         jsonb NOT NULL,
  sampled              integer NOT NULL,
  record               jsonb,
  participants         integer NOT NULL DEFAULT 0,
  mean_validation_loss double precision,
  -- Epsilon spent by the task after this round (at the task's delta), when it is private.
  epsilon_spent        double precision,
  -- The new global model's release, when the round made one and it was published.
  released             jsonb,
  release_error        text,
  PRIMARY KEY (task_id, round)
);
CREATE INDEX learning_rounds_open ON learning_rounds (outcome) WHERE outcome = 'open';

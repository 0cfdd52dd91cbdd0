-- A rollout may roll back instead of pausing when a gate fails: every gateway it brought the
-- release to is told to switch back to the release it ran before.
ALTER TABLE rollouts ADD COLUMN on_gate_failure text NOT NULL DEFAULT 'pause' CHECK (on_gate_failure IN ('pause', 'rollback'));
ALTER TABLE rollouts DROP CONSTRAINT rollouts_state_check;
ALTER TABLE rollouts ADD CONSTRAINT rollouts_state_check CHECK (state IN ('running', 'rolling-back', 'paused', 'aborted', 'completed'));

-- reverting: told to switch back; reverted: it did (or no longer ran the release).
ALTER TABLE rollout_targets DROP CONSTRAINT rollout_targets_state_check;
ALTER TABLE rollout_targets ADD CONSTRAINT rollout_targets_state_check
  CHECK (state IN ('pending', 'shadowing', 'shadowed', 'notified', 'active', 'confirmed', 'failed', 'rolled-back', 'timed-out', 'offline', 'reverting', 'reverted'));

-- Quality gates measured in shadow: a gateway runs a candidate release beside its active
-- model and reports how they compared (update step `shadow`); a rollout with quality gates
-- has each wave shadow the release first and activates it only when the wave's reports pass.
ALTER TABLE update_steps ADD COLUMN shadow jsonb;

ALTER TABLE rollouts ADD COLUMN quality jsonb;
-- Which half of the current wave: 'shadow' (told to run it in shadow) or 'activate'.
ALTER TABLE rollouts ADD COLUMN phase text NOT NULL DEFAULT 'activate' CHECK (phase IN ('shadow', 'activate'));

-- shadowing: told to run the release in shadow; shadowed: its report is in (the numbers in `shadow`).
ALTER TABLE rollout_targets DROP CONSTRAINT rollout_targets_state_check;
ALTER TABLE rollout_targets ADD CONSTRAINT rollout_targets_state_check
  CHECK (state IN ('pending', 'shadowing', 'shadowed', 'notified', 'active', 'confirmed', 'failed', 'rolled-back', 'timed-out', 'offline'));
ALTER TABLE rollout_targets ADD COLUMN shadow jsonb;

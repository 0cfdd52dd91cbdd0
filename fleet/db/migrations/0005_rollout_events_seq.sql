-- The event stream reads decisions across rollouts by seq (WHERE seq > $1 ORDER BY seq): an
-- index on seq alone, so each stream's poll is an index range scan, not a sort of the table.
CREATE INDEX rollout_events_seq ON rollout_events (seq);

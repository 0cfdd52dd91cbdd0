-- A sample of each gateway's health report, at most one a minute per gateway (by the fleet's
-- clock), for the console's charts. Counters are the gateway's totals since its process
-- started (the reader makes rates). Swept by age (24 h by default) and bounded per gateway.
CREATE TABLE gateway_metrics (
  gateway_id          text NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
  -- When the fleet received the report (not the gateway's clock).
  ts                  bigint NOT NULL,
  -- The report's status: ok or degraded.
  status              text NOT NULL,
  rss_bytes           bigint,
  store_bytes         bigint,
  store_records       bigint,
  published_records   bigint,
  acked_records       bigint,
  in_flight_messages  bigint,
  dropped_records     bigint,
  uplink_connected    boolean,
  PRIMARY KEY (gateway_id, ts)
);
-- The sweep deletes by age across gateways.
CREATE INDEX gateway_metrics_ts ON gateway_metrics (ts);

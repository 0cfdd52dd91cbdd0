/** A health report as runtime/health makes them (the fields a sample reads, and some it does not). */
export function healthReport(gw: string, o: { published?: number; acked?: number; connected?: boolean; rss?: number } = {}): Record<string, unknown> {
  return {
    gw, ts: Date.now(), runtimeVersion: '0.1.0', uptimeS: 60, status: 'ok', reasons: [],
    store: {
      budgetBytes: 1e8, records: { telemetry: 100, result: 20, alert: 3 }, bytes: { telemetry: 40_000, result: 8000, alert: 1200 },
      appended: { telemetry: 1000, result: 200, alert: 3 }, evicted: { telemetry: 7, result: 0, alert: 0 }, writeErrors: 0, rejected: 2,
      decisionLog: { entries: 3, bytes: 900, expired: 0, evicted: 0 },
    },
    uplink: { connected: o.connected ?? true, publishedRecords: o.published ?? 1200, ackedRecords: o.acked ?? 1190, inFlightMessages: 2, reconnects: 1, lastError: null },
    pipelines: [{ id: 'press', edges: [{ name: 'a', policy: 'drop-oldest', depthRecords: 0, capacityRecords: 64, dropped: 4 }, { name: 'b', policy: 'block', depthRecords: 1, capacityRecords: 64, dropped: 0 }], stages: [] }],
    sources: [{ id: 'press', type: 'sim', emitted: 1000, stored: 999, dropped: 1 }],
    rssBytes: o.rss ?? 123_456_789,
  };
}

/** The source's counters, in the order its stats() lists them (README, "Records, counters and health"). */
export function newCounters() {
  return {
    connects: 0,
    connectFailures: 0,
    reconnects: 0,
    connectionLosses: 0,
    sessionsRecreated: 0,
    subscriptionsTransferred: 0,
    subscriptionsRecreated: 0,
    notifications: 0,
    samples: 0,
    duplicateNotifications: 0,
    badSamples: 0,
    uncertainSamples: 0,
    overflowSamples: 0,
    nonNumericSamples: 0,
    droppedSamples: 0,
    publishSuspensions: 0,
    recordsEmitted: 0,
    republished: 0,
  };
}

export type OpcuaCounters = ReturnType<typeof newCounters>;

/** Logs a named event of the source (its id and endpoint are added). */
export type SourceEvent = (level: 'info' | 'warn' | 'error', name: string, fields: Record<string, unknown>) => void;

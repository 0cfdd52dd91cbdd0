import type { QueueOptions } from '../pipeline/bounded-queue.js';

/**
 * Every default of the gateway config, in one place. The README's config reference is
 * written from this file.
 */
export const defaults = {
  gateway: {
    /** Time to drain queues into the store on SIGTERM before giving up. */
    shutdownTimeoutMs: 10_000,
  },
  queue: {
    maxRecords: 10_000,
    whenFull: 'block',
    sampleEvery: 10,
  } satisfies QueueOptions,
  store: {
    maxSizeBytes: 256 * 1024 * 1024,
    /** fsync per batch: survives power cuts, not only process crashes. */
    sync: true,
    batchMaxRecords: 2000,
    /**
     * Under load, a batch at most every 5 ms (idle writes go at once): ~10x larger batches,
     * 20-40% less CPU a record and ~10x fewer fsyncs at 3,000-6,000 records/s (npm run bench -- modbus).
     */
    lingerMs: 5,
    /**
     * Free-space watermark on the data directory's filesystem (at most a tenth of its size):
     * below it the outbox stores alerts only. 0 turns it off.
     */
    minFreeBytes: 64 * 1024 * 1024,
    decisionLog: {
      retentionDays: 90,
      maxSizeBytes: 64 * 1024 * 1024,
    },
  },
  uplink: {
    rejectUnauthorized: true,
    keepaliveS: 30,
    connectTimeoutMs: 10_000,
    batchMaxRecords: 500,
    batchMaxBytes: 256 * 1024,
    maxInFlight: 16,
    reconnect: { minDelayMs: 500, maxDelayMs: 60_000 },
  },
  health: {
    intervalMs: 30_000,
  },
  log: {
    level: 'info',
  },
  inference: {
    /** The backend that runs every model (its own defaults live in its folder, models/engine/backends/<name>/). */
    backend: 'onnxruntime',
  },
  updates: {
    // Release notices over MQTT start a check at once; the timer catches what was missed offline.
    checkIntervalMs: 3_600_000,
  },
  learning: {
    enabled: false,
    // 2,048 windows of 32 samples x 3 channels: 1.5 MiB per stream (float64); about 20 minutes
    // of a stream's windows at a 16-sample stride and 200 Hz, sampled uniformly over its whole run.
    reservoirWindows: 2048,
    // As the stage's own trainer holds out (trainAutoencoderOnWindows, heldOut 0.2).
    heldOutShare: 0.2,
    // An autoencoder update is ~7 KB dense: one chunk; the protocol's default bound.
    maxChunkBytes: 65_536,
  },
  service: {
    /** A Pi 4 with 2 GB runs other things too; the gateway idles near 70 MB and peaks near 100 MB under load. */
    memoryMax: '512M',
    /** The gateway pings at half this while its event loop, store and uplink are alive. */
    watchdogSec: 60,
    /** 5 failed starts in 10 minutes: systemd gives up on this version and the rollback unit runs. */
    startLimitBurst: 5,
    startLimitIntervalSec: 600,
  },
} as const;

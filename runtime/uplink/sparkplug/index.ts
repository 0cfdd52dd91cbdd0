export { BdSeqStore } from './bd-seq.js';
export { DeviceLiveness, DEVICE_LIVENESS_INTERVAL_MS, type DeviceOnlineTarget, type WatchedSource } from './device-liveness.js';
export { SparkplugEdgeNode, type SparkplugFiles, type SparkplugStats } from './edge-node.js';
export type { FeedRecord, SparkplugFeed } from './feed.js';
export { readSparkplugFiles } from './files.js';
export { checkSparkplug, deviceOfSource, sparkplugSchema, sparkplugSettings, type SparkplugSection, type SparkplugSettings } from './schema.js';
export { OutboxFeed, SPARKPLUG_CONSUMER, type OutboxFeedStats } from './outbox-feed.js';

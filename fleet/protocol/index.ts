export * from './errors.js';
export * from './topics.js';
export * from './record.js';
export * from './batch.js';
export * from './state.js';
export type * from './health.js';
export * from './schema-problems.js';
export * from './update.js';
export * from './health-message.js';

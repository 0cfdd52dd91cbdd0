export * from './errors.js';
export * from './params.js';
export type { NeighbourGraph } from './graph.js';
export * from './messages.js';
export * from './client.js';
export * from './server.js';
export * from './quantised.js';
export type { ShareKind } from './derive.js';

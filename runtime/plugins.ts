import { devicePlugins } from '../devices/index.js';
import { inferenceBackends } from '../models/engine/backends/index.js';
import { modelStagePlugins } from '../models/index.js';
import { PluginRegistry } from './pipeline/registry.js';
import { aggregatePlugin } from './stages/aggregate/index.js';

/**
 * The registry with every built-in plug-in. The runtime reaches devices, model stages and
 * inference backends only through here, by config `type` (and `inference.backend`).
 */
export function builtinRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const plugin of devicePlugins) registry.register(plugin);
  registry.register(aggregatePlugin);
  for (const plugin of modelStagePlugins) registry.register(plugin);
  for (const backend of inferenceBackends) registry.register(backend);
  return registry;
}

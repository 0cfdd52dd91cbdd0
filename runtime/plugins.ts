import { devicePlugins } from '../devices/index.js';
import { modelStagePlugins } from '../models/index.js';
import { PluginRegistry } from './pipeline/registry.js';
import { aggregatePlugin } from './stages/aggregate/index.js';

/**
 * The registry with every built-in plug-in. The runtime reaches devices (and, later,
 * models) only through here, by config `type`.
 */
export function builtinRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const plugin of devicePlugins) registry.register(plugin);
  registry.register(aggregatePlugin);
  for (const plugin of modelStagePlugins) registry.register(plugin);
  return registry;
}

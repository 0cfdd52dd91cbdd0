import { join } from 'node:path';
import { defineSource } from '../../runtime/pipeline/registry.js';
import { checkOpcua, opcuaFiles, opcuaSchema } from './schema.js';

export const opcuaPlugin = defineSource({
  type: 'opcua',
  configSchema: opcuaSchema,
  emits: ['samples'],
  pathKeys: [
    ['security', 'pkiDir'],
    ['security', 'certificateFile'],
    ['security', 'privateKeyFile'],
    ['user', 'passwordFile'],
  ],
  check: (config) => checkOpcua(config),
  files: (config) => opcuaFiles(config),
  // As subscription.ts names them: a Sparkplug device can be one subscription.
  streams: (config) => config.subscriptions.map((sub) => sub.stream ?? `${config.id}.${sub.name}`),
  // node-opcua-client adds about 62 MB of RSS: only a config with an OPC UA source loads it.
  create: async (config, env) => new (await import('./client.js')).OpcuaSource({ ...config, defaultPkiDir: join(env.stateDir, 'pki') }),
});

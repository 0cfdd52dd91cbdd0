import { defineSource } from '../../runtime/pipeline/registry.js';
import { cameraSchema } from './schema.js';

// The implementation (camera-source.ts, annexb.ts, decoder.ts) is imported by `create` only:
// a gateway without cameras never loads it (memory bench, README). Import it from its files.
export type { AccessUnit, AnnexBCounters } from './annexb.js';
export type { CameraOptions } from './camera-source.js';
export type { DecoderCounters, H264DecoderOptions } from './decoder.js';

const DEFAULT_RECONNECT = { minDelayMs: 500, maxDelayMs: 30_000 };

export const cameraPlugin = defineSource({
  type: 'camera',
  configSchema: cameraSchema,
  emits: ['frames'],
  pathKeys: [['input', 'file']],
  check: (config) => {
    const reconnect = { ...DEFAULT_RECONNECT, ...config.reconnect };
    return reconnect.minDelayMs > reconnect.maxDelayMs
      ? [{ path: ['reconnect', config.reconnect?.maxDelayMs === undefined ? 'minDelayMs' : 'maxDelayMs'], expected: `reconnect.minDelayMs <= maxDelayMs (${reconnect.minDelayMs} <= ${reconnect.maxDelayMs})`, got: 'the wrong way round' }]
      : [];
  },
  files: (config) => ('file' in config.input && typeof config.input.file === 'string' ? [{ key: ['input', 'file'], file: config.input.file, what: 'an H.264 Annex B file' }] : []),
  create: async (config) => {
    const reconnect = { ...DEFAULT_RECONNECT, ...config.reconnect };
    if (reconnect.minDelayMs > reconnect.maxDelayMs) throw new RangeError(`camera ${config.id}: reconnect.minDelayMs (${reconnect.minDelayMs}) exceeds maxDelayMs (${reconnect.maxDelayMs})`);
    const { CameraSource } = await import('./camera-source.js');
    return new CameraSource({
      id: config.id,
      stream: config.stream ?? config.id,
      input: config.input,
      streamFps: config.streamFps ?? 30,
      realtime: config.realtime ?? true,
      fps: config.fps,
      reconnect,
    });
  },
});

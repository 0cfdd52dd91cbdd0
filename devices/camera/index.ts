import { defineSource } from '../../runtime/pipeline/registry.js';
import { parseRtspUrl } from './rtsp/rtsp-url.js';
import { cameraSchema } from './schema.js';
import { webCodecsProblem } from './webcodecs.js';

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
  pathKeys: [
    ['input', 'file'],
    ['input', 'credentialsFile'],
  ],
  check: (config) => {
    const reconnect = { ...DEFAULT_RECONNECT, ...config.reconnect };
    const problems: { path: string[]; expected: string; got: string }[] =
      reconnect.minDelayMs > reconnect.maxDelayMs
        ? [{ path: ['reconnect', config.reconnect?.maxDelayMs === undefined ? 'minDelayMs' : 'maxDelayMs'], expected: `reconnect.minDelayMs <= maxDelayMs (${reconnect.minDelayMs} <= ${reconnect.maxDelayMs})`, got: 'the wrong way round' }]
        : [];
    // The decoder's native library is checked here, so `gateway --check` says a camera cannot run on this box.
    const codec = webCodecsProblem();
    if (codec !== undefined) problems.push({ path: ['type'], expected: 'a loadable H.264 decoder for cameras (node-webcodecs)', got: codec });
    return 'rtsp' in config.input ? [...problems, ...checkRtsp(config.input)] : problems;
  },
  files: (config) => {
    if ('file' in config.input && typeof config.input.file === 'string') return [{ key: ['input', 'file'], file: config.input.file, what: 'an H.264 file (raw Annex B or MP4)' }];
    if ('rtsp' in config.input && typeof config.input.credentialsFile === 'string') return [{ key: ['input', 'credentialsFile'], file: config.input.credentialsFile, what: 'an RTSP credentials file (one line user:password)' }];
    return [];
  },
  create: async (config, env) => {
    if ('rtsp' in config.input && parseRtspUrl(config.input.rtsp).password !== undefined) {
      // Accepted (it is how Frigate and most camera tools take it), but said once: the config file, backups and `ps` of tools show it.
      env.events.warn('camera.rtsp_password_in_url', { code: 'E_RTSP_CREDENTIALS', source: config.id, reason: 'the camera URL carries a password: move it to input.credentialsFile (one line user:password) to keep it out of the config' });
    }
    const reconnect = { ...DEFAULT_RECONNECT, ...config.reconnect };
    if (reconnect.minDelayMs > reconnect.maxDelayMs) throw new RangeError(`camera ${config.id}: reconnect.minDelayMs (${reconnect.minDelayMs}) exceeds maxDelayMs (${reconnect.maxDelayMs})`);
    const { CameraSource } = await import('./camera-source.js');
    return new CameraSource({
      id: config.id,
      stream: config.stream ?? config.id,
      input: config.input,
      streamFps: config.streamFps,
      realtime: config.realtime ?? true,
      fps: config.fps,
      reconnect,
    });
  },
});

function checkRtsp(input: { readonly rtsp: string; readonly credentialsFile?: string }): { path: string[]; expected: string; got: string }[] {
  let url;
  try {
    url = parseRtspUrl(input.rtsp);
  } catch (err) {
    return [{ path: ['input', 'rtsp'], expected: 'rtsp://[user[:password]@]host[:port]/path', got: (err as Error).message }];
  }
  if (url.user !== undefined && input.credentialsFile !== undefined) {
    return [{ path: ['input', 'credentialsFile'], expected: 'credentials in the URL or in credentialsFile, not both', got: 'both' }];
  }
  return [];
}

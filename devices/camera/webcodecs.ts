import { createRequire } from 'node:module';

/**
 * node-webcodecs, loaded on first use rather than at import: the gateway imports every
 * driver, and a gateway without cameras must start on a box where the native codec
 * library is missing (linux-arm64 has no static build; see README.md, "Install").
 */
export type WebCodecs = typeof import('node-webcodecs');

export class CodecUnavailableError extends Error {
  readonly code = 'E_CAMERA_CODEC';
}

let loaded: WebCodecs | undefined;

export function loadWebCodecs(): WebCodecs {
  if (loaded !== undefined) return loaded;
  try {
    const codecs = createRequire(import.meta.url)('node-webcodecs') as WebCodecs;
    // node-webcodecs' require succeeds without its native binding (it throws on first use, and
    // isNativeAvailable() says true regardless): ask the binding something to load it now.
    codecs.getFFmpegVersion();
    loaded = codecs;
    return loaded;
  } catch (err) {
    throw new CodecUnavailableError(
      `cannot load the H.264 decoder (node-webcodecs): ${(err as Error).message.replace(/\s*\n\s*/g, '; ')}. On linux-x64 install the optional dependency @node-webcodecs/static-linux-x64; on linux-arm64 install FFmpeg 6 libraries (Ubuntu 24.04-class) or build node-webcodecs from source (devices/camera/README.md, "Install").`,
    );
  }
}

/**
 * Why this box cannot decode a camera's H.264, or undefined when it can: `gateway --check`
 * asks it for a config with a camera, so a missing codec library fails the check, not the start.
 */
export function webCodecsProblem(): string | undefined {
  try {
    loadWebCodecs();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

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
    loaded = createRequire(import.meta.url)('node-webcodecs') as WebCodecs;
    return loaded;
  } catch (err) {
    throw new CodecUnavailableError(
      `cannot load the H.264 decoder (node-webcodecs): ${(err as Error).message}. On linux-x64 install the optional dependency @node-webcodecs/static-linux-x64; on linux-arm64 install FFmpeg 6 libraries (Ubuntu 24.04-class) or build node-webcodecs from source (devices/camera/README.md, "Install").`,
    );
  }
}

import { execFileSync } from 'node:child_process';

/**
 * Debian's image programs (installed by scripts/ensure-test-programs.mjs) writing the files a
 * user would have: ffmpeg for PNG of every pixel format and baseline JPEG, libjpeg-turbo's
 * jpegtran/cjpeg for progressive and grey JPEG, exiftool for an EXIF orientation.
 */
export function run(program: string, args: readonly string[]): Buffer {
  return execFileSync(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A test-pattern picture written by ffmpeg (the extension picks the encoder). */
export function ffmpegPicture(out: string, width: number, height: number, pixFmt?: string): void {
  run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}`, '-frames:v', '1', ...(pixFmt === undefined ? [] : ['-pix_fmt', pixFmt]), out]);
}

/** What ffmpeg decodes `file` to, as RGB24 bytes (an independent decoder to compare with). */
export function ffmpegRgb(file: string): Uint8Array {
  return new Uint8Array(run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']));
}

export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i += 1) s += Math.abs((a[i] as number) - (b[i] as number));
  return s / a.length;
}

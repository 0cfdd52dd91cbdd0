import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { AnnexBParser, type AccessUnit } from '../../../devices/camera/annexb.js';
import type { Receipt, SourceContext } from '../../../runtime/pipeline/components.js';
import type { FrameRecordData } from '../../../runtime/pipeline/frame.js';
import type { RecordInput } from '../../../runtime/pipeline/record.js';
import { encodeH264 } from '../../../sim/video/encode-h264.js';
import { testPattern } from '../../../sim/video/test-pattern.js';
import { quietEvents } from '../../support/store.js';

/** A test clip: `frames` test-pattern pictures at 30 fps, a keyframe every 30, with its access units. */
export async function makeClip(width: number, height: number, frames: number): Promise<{ bytes: Uint8Array; aus: AccessUnit[] }> {
  const bytes = await encodeH264({ width, height, framerate: 30, bitrate: width * height * 4, frames, picture: (i) => testPattern(width, height, i) });
  const parser = new AnnexBParser();
  return { bytes, aus: [...parser.push(bytes), ...parser.end()] };
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
  return out;
}

/** A SourceContext that keeps every record it is given; `stored` never settles, as for frames nobody stores. */
export function collectingContext(): { ctx: SourceContext; records: RecordInput[]; frames: () => FrameRecordData[]; abort: AbortController } {
  const records: RecordInput[] = [];
  const abort = new AbortController();
  const ctx: SourceContext = {
    signal: abort.signal,
    events: quietEvents(),
    emit: async (batch): Promise<Receipt> => {
      records.push(...batch);
      return { stored: new Promise(() => undefined) };
    },
  };
  return { ctx, records, frames: () => records.map((r) => r.data as FrameRecordData), abort };
}

/** Runs ffmpeg (Debian's, installed by scripts/ensure-test-programs.mjs) with `args`, `input` on its stdin; rejects with its stderr. */
export async function ffmpeg(args: readonly string[], input?: Uint8Array): Promise<void> {
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined); // ffmpeg may exit before reading it all; its exit code says why
  child.stdin.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`ffmpeg ${args.join(' ')} exited with ${String(code)}: ${stderr}`);
}

/**
 * Encodes `frames` test-pattern pictures with ffmpeg (raw I420 on stdin at `fps`) into `out`,
 * with `codecArgs` choosing the encoder and container: a clip like the files users have
 * (x264 with B-frames, H.265, MPEG-4 Part 2 ...), which decodes back to pattern indices.
 */
export async function encodeWithFfmpeg(width: number, height: number, frames: number, out: string, codecArgs: readonly string[], fps = 30): Promise<void> {
  const raw = concat(Array.from({ length: frames }, (_, i) => testPattern(width, height, i)));
  await ffmpeg(['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-', ...codecArgs, out], raw);
}

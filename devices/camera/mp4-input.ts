import { createFile, MP4BoxBuffer, VisualSampleEntry, type Movie, type Sample, type Track } from 'mp4box';
import { CameraFormatError } from './stream-format.js';

/**
 * The H.264 track of an MP4 (or MOV, or fragmented MP4) as Annex B access units, demuxed by
 * MP4Box.js (GPAC). The file is fed to the demuxer in pieces from wherever it asks next
 * (`appendBuffer` returns that position: a file whose `moov` comes after its `mdat`, as
 * ffmpeg writes by default, is read to its `moov` first and then from its first sample),
 * and each sample is released as soon as it is converted: memory holds a piece or two and
 * the sample table, never the file.
 *
 * MP4 samples carry NAL units behind a big-endian length (AVCC); the parameter sets live in
 * the track's `avcC` box. A unit leaves as Annex B (each NAL unit behind 00 00 00 01), with
 * the SPS and PPS before every keyframe, so it takes the same parser and decoder as a raw
 * stream and decoding can start at any keyframe.
 */

export interface Mp4Unit {
  /** One access unit, Annex B. */
  readonly bytes: Uint8Array;
  /** Presentation time from the track's timescale, µs after the first sample's. */
  readonly timeUs: number;
  /** Decode time, µs after the first sample's (pacing follows decode order). */
  readonly decodeTimeUs: number;
  /** The sample's duration, µs. */
  readonly durationUs: number;
}

/** Random access to the file's bytes. */
export interface Mp4Bytes {
  readonly size: number;
  /** Reads `length` bytes at `position` into `into` (a fresh buffer the demuxer keeps); returns how many were read. */
  read(into: Uint8Array, position: number): Promise<number>;
}

/** Bytes read per piece. */
const PIECE_BYTES = 256 * 1024;
const START_CODE = [0, 0, 0, 1] as const;

const CODEC_NAMES: readonly (readonly [string, string])[] = [
  ['hvc1', 'H.265/HEVC'],
  ['hev1', 'H.265/HEVC'],
  ['av01', 'AV1'],
  ['vp09', 'VP9'],
  ['vp08', 'VP8'],
  ['mp4v', 'MPEG-4 Part 2'],
  ['jpeg', 'Motion JPEG'],
  ['mjp', 'Motion JPEG'],
  ['vvc1', 'H.266/VVC'],
  ['vvi1', 'H.266/VVC'],
  ['encv', 'encrypted video'],
];

function codecName(codec: string): string {
  return CODEC_NAMES.find(([prefix]) => codec.startsWith(prefix))?.[1] ?? `"${codec.split('.')[0] ?? codec}"`;
}

/** Picks the H.264 video track, or says why there is none. */
function chooseTrack(info: Movie, where: string): Track | CameraFormatError {
  const h264 = info.videoTracks.find((t) => /^avc[13]\b/.test(t.codec));
  if (h264 !== undefined) return h264;
  const video = info.videoTracks[0];
  if (video !== undefined) {
    return new CameraFormatError(
      `${where}: the MP4's video track ${video.id} is ${codecName(video.codec)} (${video.codec}), not H.264; re-encode it, e.g. \`ffmpeg -i in.mp4 -c:v libx264 out.mp4\``,
    );
  }
  const tracks = info.tracks.map((t) => `${t.type ?? 'track'} ${t.codec}`).join(', ');
  return new CameraFormatError(`${where}: the MP4 has no video track${tracks === '' ? '' : ` (it has ${tracks})`}`);
}

/** The demuxed H.264 access units of an MP4 file, in decode order. */
export async function* mp4AccessUnits(file: Mp4Bytes, where: string, signal: AbortSignal): AsyncGenerator<Mp4Unit> {
  const iso = createFile(true);
  let failure: CameraFormatError | undefined;
  let trackId = -1;
  let first: { cts: number; dts: number } | undefined;
  const ready: Mp4Unit[] = [];
  iso.onError = (module, message) => {
    failure ??= new CameraFormatError(`${where}: not a readable MP4 (${module}: ${message})`);
  };
  iso.onReady = (info) => {
    const chosen = chooseTrack(info, where);
    if (chosen instanceof CameraFormatError) {
      failure ??= chosen;
      return;
    }
    trackId = chosen.id;
    // Every track is extracted, the others only to be released: bytes of a track nobody
    // extracts (interleaved audio) would keep their pieces in memory.
    for (const t of info.tracks) iso.setExtractionOptions(t.id, undefined, { nbSamples: 1 });
    iso.start();
  };
  iso.onSamples = (id, _user, samples) => {
    for (const s of samples) {
      if (id === trackId) {
        const bytes = toAnnexB(s, where);
        const us = (t: number): number => Math.round((t * 1e6) / s.timescale);
        first ??= { cts: us(s.cts), dts: us(s.dts) };
        if (bytes !== undefined) ready.push({ bytes, timeUs: us(s.cts) - first.cts, decodeTimeUs: us(s.dts) - first.dts, durationUs: us(s.duration) });
      }
      iso.releaseUsedSamples(id, s.number + 1);
    }
  };

  // A damaged file could send the demuxer back and forth: it reads a file about twice at most (moov last).
  const readLimit = 3 * file.size + 16 * PIECE_BYTES;
  let readTotal = 0;
  let pos = 0;
  while (pos < file.size && !signal.aborted) {
    const piece = new MP4BoxBuffer(Math.min(PIECE_BYTES, file.size - pos));
    const n = await file.read(new Uint8Array(piece), pos);
    if (n === 0) break; // the file shrank
    piece.fileStart = pos;
    readTotal += n;
    if (readTotal > readLimit) throw new CameraFormatError(`${where}: the MP4 demuxer did not get through the file (read ${readTotal} bytes of ${file.size}): a damaged MP4?`);
    const next = iso.appendBuffer(n === piece.byteLength ? piece : sliceBuffer(piece, n));
    if (failure !== undefined) throw failure;
    yield* ready.splice(0);
    // The demuxer says where it needs bytes next (the moov after a long mdat, then the samples).
    pos = typeof next === 'number' && next !== pos ? next : pos + n;
  }
  if (signal.aborted) return;
  iso.flush();
  if (failure !== undefined) throw failure;
  yield* ready.splice(0);
  if (!iso.readySent) {
    throw new CameraFormatError(`${where}: no 'moov' box in this MP4 (${file.size} bytes): the recording was not finished (a recorder stopped before writing its index?); a fragmented MP4 (\`-movflags frag_keyframe+empty_moov\`) survives that`);
  }
}

function sliceBuffer(piece: MP4BoxBuffer, n: number): MP4BoxBuffer {
  const out = new MP4BoxBuffer(n);
  new Uint8Array(out).set(new Uint8Array(piece, 0, n));
  out.fileStart = piece.fileStart;
  return out;
}

/**
 * A sample's AVCC NAL units as Annex B, behind the avcC's SPS and PPS when it is a keyframe
 * that does not carry its own. Undefined when the sample has nothing valid in it.
 */
export function toAnnexB(sample: Sample, where: string): Uint8Array | undefined {
  const data = sample.data;
  if (data === undefined) return undefined;
  const entry = sample.description;
  const avcC = entry instanceof VisualSampleEntry ? entry.avcC : undefined;
  if (avcC === undefined) throw new CameraFormatError(`${where}: an H.264 sample without its avcC box (track ${sample.track_id}, sample ${sample.number})`);
  return avccToAnnexB(data, avcC.lengthSizeMinusOne + 1, sample.is_sync ? [...avcC.SPS, ...avcC.PPS].map((p) => p.data) : []);
}

/**
 * Length-prefixed NAL units (`lengthSize` = 1, 2 or 4 bytes) to Annex B, with `parameterSets`
 * in front unless the units carry an SPS themselves. A length that runs past the end stops
 * the conversion there (a damaged sample: the parser and decoder judge what is left).
 */
export function avccToAnnexB(data: Uint8Array, lengthSize: number, parameterSets: readonly Uint8Array[]): Uint8Array | undefined {
  const nals: Uint8Array[] = [];
  let hasSps = false;
  for (let off = 0; off + lengthSize <= data.length; ) {
    let len = 0;
    for (let i = 0; i < lengthSize; i += 1) len = len * 256 + (data[off + i] as number);
    off += lengthSize;
    if (len === 0) continue;
    if (off + len > data.length) break;
    const nal = data.subarray(off, off + len);
    if (((nal[0] as number) & 0x1f) === 7) hasSps = true;
    nals.push(nal);
    off += len;
  }
  if (nals.length === 0) return undefined;
  const all = hasSps ? nals : [...parameterSets, ...nals];
  const out = new Uint8Array(all.reduce((n, nal) => n + 4 + nal.length, 0));
  let at = 0;
  for (const nal of all) {
    out.set(START_CODE, at);
    out.set(nal, at + 4);
    at += 4 + nal.length;
  }
  return out;
}

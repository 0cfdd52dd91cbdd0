import { delayRangeSchema, idProperty } from '../../runtime/config/schema.js';

const hostPort = {
  type: 'string',
  pattern: '^[^:\\s]+:\\d{1,5}$',
  description: 'host:port, like 192.168.1.20:5000',
} as const;

/** Where the H.264 comes from. */
export const cameraInputSchema = {
  oneOf: [
    {
      type: 'object',
      properties: {
        file: { type: 'string', minLength: 1, description: 'a path to an H.264 file: raw Annex B (.h264) or MP4/MOV (fragmented too), told apart by content; other codecs are refused (E_CAMERA_FORMAT)' },
        loop: { type: 'boolean', description: 'start over at the end of the file' },
      },
      required: ['file'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: { tcp: { ...hostPort, description: 'host:port of a camera or encoder serving the raw Annex B stream over TCP' } },
      required: ['tcp'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: { udp: { ...hostPort, description: 'host:port to bind; datagrams carry the raw Annex B stream' } },
      required: ['udp'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        rtsp: { type: 'string', pattern: '^rtsp://\\S+$', maxLength: 2048, description: 'rtsp://host[:port]/path of an H.264 stream (RTP over the RTSP connection)' },
        /** One line `user:password`; read again at every reconnect. */
        credentialsFile: { type: 'string', minLength: 1, description: 'a file holding one line user:password' },
        /** Connect, each request's answer, and RTP while playing must each come within this (default 10000). */
        timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
      },
      required: ['rtsp'],
      additionalProperties: false,
    },
  ],
} as const;

export const cameraSchema = {
  type: 'object',
  properties: {
    id: idProperty,
    type: { const: 'camera' },
    input: cameraInputSchema,
    /** Frame rate of the stream: paces a file, spaces timestamps. */
    streamFps: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1000,
      description: "the stream's frame rate: paces a file and spaces timestamps (default: an MP4's own sample times; 30 for a raw stream)",
    },
    /** File input: play at streamFps (true) or as fast as the pipeline takes frames (false). */
    realtime: { type: 'boolean', description: 'file input: play in real time (default) or as fast as the pipeline takes frames, waiting for it and dropping none (false)' },
    /** Frames per second handed to the pipeline at most; the rest are decoded and not emitted. */
    fps: { type: 'number', exclusiveMinimum: 0, maximum: 1000 },
    stream: { type: 'string', minLength: 1, maxLength: 128 },
    /** TCP reconnects and file reopens. */
    reconnect: delayRangeSchema,
  },
  required: ['id', 'type', 'input'],
  additionalProperties: false,
} as const;

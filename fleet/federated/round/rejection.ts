/**
 * Why an update was not taken, one reason per update (the first check it fails, in this
 * order). Each is counted per round; the counts go in the round record and the health report.
 */
export const REJECTION_REASONS = [
  /** Bytes that do not decode as an update message, or a typed message inconsistent in itself (q values that do not fit the shape, indices out of range, a sample count out of range). */
  'malformed',
  /** The message's `client` is not the gateway whose topic it came on (the broker's ACL makes the topic authentic). */
  'sender-mismatch',
  /** The message answers another task. */
  'wrong-task',
  /** The registry does not know the gateway, or revoked it. */
  'unknown-or-revoked-gateway',
  /** The message names a round not opened yet. */
  'future-round',
  /** The message names a round too old to remember (older than the late window). */
  'stale-round',
  /** The gateway was not drawn into the round the message names. */
  'not-sampled',
  /** The gateway's answer for that round was taken already (a second update, or a redelivery). */
  'duplicate',
  /** It came after its round closed, and the task's late policy is `drop`. */
  'late-dropped',
  /** It came after its round closed, the policy is `buffer`, and the buffer is full. */
  'late-buffer-full',
  /** Tensors, names or shapes differ from the global model's layout. */
  'wrong-shape',
  /** A dequantised value is NaN or infinite. */
  'non-finite',
  /** The dequantised update's L2 norm is beyond what rounding a clipped update can produce (norm-bound.ts). */
  'norm-over-bound',
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

export type RejectionCounts = Record<RejectionReason, number>;

export function emptyRejectionCounts(): RejectionCounts {
  return Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as RejectionCounts;
}

/** What happened to one update handed to the round logic. */
export type UpdateVerdict =
  | { readonly status: 'accepted'; readonly round: number }
  /** Late, kept for a later round (late policy `buffer`). */
  | { readonly status: 'buffered'; readonly round: number }
  | { readonly status: 'rejected'; readonly reason: RejectionReason; readonly detail: string };

export const rejected = (reason: RejectionReason, detail: string): UpdateVerdict => ({ status: 'rejected', reason, detail });

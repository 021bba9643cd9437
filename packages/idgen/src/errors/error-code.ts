/**
 * Stable codes of the errors `@hitch/idgen` throws. The option error shares core's
 * `HITCH_INVALID_OPTION` and the id error core's `HITCH_VALIDATION` (so the HTTP and gRPC
 * adapters answer 400 / INVALID_ARGUMENT); the runtime errors have codes of their own.
 */
export const IdgenErrorCode = {
  InvalidOption: 'HITCH_INVALID_OPTION',
  InvalidId: 'HITCH_VALIDATION',
  ClockMovedBackwards: 'HITCH_CLOCK_MOVED_BACKWARDS',
  SequenceExhausted: 'HITCH_SEQUENCE_EXHAUSTED',
  TimestampOverflow: 'HITCH_TIMESTAMP_OVERFLOW',
} as const;
export type IdgenErrorCode = (typeof IdgenErrorCode)[keyof typeof IdgenErrorCode];

/** Unix milliseconds as an ISO date for messages; the raw number when it is not a valid date. */
export function isoTime(unixMs: number): string {
  const date = new Date(unixMs);
  return Number.isNaN(date.getTime()) ? String(unixMs) : date.toISOString();
}

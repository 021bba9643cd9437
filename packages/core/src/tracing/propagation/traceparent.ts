/**
 * The `traceparent` header of W3C Trace Context Level 2
 * (https://www.w3.org/TR/trace-context-2/#traceparent-header).
 *
 * Parsing is a fixed-offset character scan: the version-00 layout is
 * `vv-<32 hex>-<16 hex>-ff` (55 characters), and a higher version is read by the
 * same offsets (#versioning-of-traceparent). No regular expression, no split().
 */

/** The fields of a parsed `traceparent` header. */
export interface TraceparentFields {
  /** The version byte, 0x00..0xfe (`ff` is forbidden, #version). */
  readonly version: number;
  /** 32 lowercase hex characters, never all zeros (#trace-id). */
  readonly traceId: string;
  /** 16 lowercase hex characters, never all zeros (#parent-id). */
  readonly parentId: string;
  /**
   * The 8 flag bits exactly as received. Only {@link TRACE_FLAG_SAMPLED} and
   * {@link TRACE_FLAG_RANDOM} are defined; a propagator must not forward the others
   * (#other-flags: "Vendors MUST set those to zero").
   */
  readonly traceFlags: number;
}

/** The fields {@link formatTraceparent} writes; the version is always `00`. */
export type TraceparentOutput = Pick<TraceparentFields, 'traceId' | 'parentId' | 'traceFlags'>;

/** `sampled` flag: the caller may have recorded trace data (#sampled-flag). */
export const TRACE_FLAG_SAMPLED = 0x01;
/**
 * `random-trace-id` flag, new in Level 2: at least the right-most 7 bytes of the
 * trace-id are random (#random-trace-id-flag).
 */
export const TRACE_FLAG_RANDOM = 0x02;
/** The flag bits Level 2 defines; every other bit is reserved and written as zero. */
export const TRACE_FLAGS_DEFINED = TRACE_FLAG_SAMPLED | TRACE_FLAG_RANDOM;

/** Length of a version-00 header: 2 + 1 + 32 + 1 + 16 + 1 + 2. */
const VERSION_00_LENGTH = 55;
const DASH = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;

// Field offsets, relative to the first non-OWS character.
const TRACE_ID_START = 3;
const TRACE_ID_END = 35;
const PARENT_ID_START = 36;
const PARENT_ID_END = 52;
const FLAGS_START = 53;

/** Two lowercase hex digits for each value of the defined flags (0..3). */
const FLAG_TEXT = ['00', '01', '02', '03'] as const;

/**
 * Parses a `traceparent` header value; `undefined` when it is invalid, in which
 * case the caller restarts the trace (#versioning-of-traceparent) and must not
 * read `tracestate` (#tracestate-header).
 *
 * - Spaces and tabs around the value are HTTP optional whitespace (RFC 9110 §5.5)
 *   and are ignored; the w3c/trace-context test suite sends such values
 *   (`test_traceparent_ows_handling`).
 * - Only lowercase hex is accepted (`HEXDIGLC`).
 * - Version `00` must be exactly 55 characters. A higher version is read by the
 *   version-00 rules and may carry more data after the flags, which must start
 *   with `-` (#versioning-of-traceparent); that data is not parsed.
 */
export function parseTraceparent(value: string): TraceparentFields | undefined {
  if (typeof value !== 'string') return undefined;
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  const length = end - start;
  if (length < VERSION_00_LENGTH) return undefined;

  const version = hexByte(value, start);
  if (version < 0 || version === 0xff) return undefined;
  if (version === 0) {
    if (length !== VERSION_00_LENGTH) return undefined;
  } else if (length > VERSION_00_LENGTH && value.charCodeAt(start + VERSION_00_LENGTH) !== DASH) {
    // "Vendors MUST check that the 2 characters are either at the end of the
    // string or followed by a dash."
    return undefined;
  }
  if (
    value.charCodeAt(start + 2) !== DASH ||
    value.charCodeAt(start + TRACE_ID_END) !== DASH ||
    value.charCodeAt(start + PARENT_ID_END) !== DASH
  ) {
    return undefined;
  }
  if (!isLowerHexId(value, start + TRACE_ID_START, start + TRACE_ID_END)) return undefined;
  if (!isLowerHexId(value, start + PARENT_ID_START, start + PARENT_ID_END)) return undefined;
  const traceFlags = hexByte(value, start + FLAGS_START);
  if (traceFlags < 0) return undefined;

  return {
    version,
    traceId: value.slice(start + TRACE_ID_START, start + TRACE_ID_END),
    parentId: value.slice(start + PARENT_ID_START, start + PARENT_ID_END),
    traceFlags,
  };
}

/**
 * Writes a version-`00` `traceparent` value: "Vendors MUST use these fields to
 * construct the new traceparent field according to the highest version of the
 * specification known to the implementation" (#versioning-of-traceparent).
 *
 * Flag bits other than sampled and random are cleared (#other-flags). Upper-case
 * hex ids are lowercased (OpenTelemetry's `isSpanContextValid` accepts them, the
 * header grammar does not).
 *
 * @throws RangeError when an id is not hex of the right length or is all zeros:
 * such a header would be invalid, and callers validate span contexts first.
 */
export function formatTraceparent(fields: TraceparentOutput): string {
  return writeTraceparent(
    checkId(fields.traceId, TRACE_ID_END - TRACE_ID_START, 'traceId'),
    checkId(fields.parentId, PARENT_ID_END - PARENT_ID_START, 'parentId'),
    fields.traceFlags,
  );
}

/**
 * {@link formatTraceparent} without the id checks, for ids already checked by
 * OpenTelemetry's `isSpanContextValid` (hex of the right length, not all zeros,
 * either case): inject runs on every outgoing request. Not part of the public API.
 */
export function writeTraceparent(traceId: string, parentId: string, traceFlags: number): string {
  const flags = FLAG_TEXT[traceFlags & TRACE_FLAGS_DEFINED] ?? '00';
  return `00-${traceId.toLowerCase()}-${parentId.toLowerCase()}-${flags}`;
}

function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** Value of a lowercase hex digit, or -1. */
function lowerHexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** The byte encoded by two lowercase hex digits at `at`, or -1. */
function hexByte(value: string, at: number): number {
  const high = lowerHexValue(value.charCodeAt(at));
  const low = lowerHexValue(value.charCodeAt(at + 1));
  return high < 0 || low < 0 ? -1 : (high << 4) | low;
}

/** Lowercase hex from `start` to `end`, not all zeros (#trace-id, #parent-id). */
function isLowerHexId(value: string, start: number, end: number): boolean {
  let nonZero = false;
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i);
    if (lowerHexValue(c) < 0) return false;
    if (c !== 0x30) nonZero = true;
  }
  return nonZero;
}

/** Checks an id for {@link formatTraceparent}: hex of either case, `length` long, not all zeros. */
function checkId(id: string, length: number, name: string): string {
  if (typeof id !== 'string' || id.length !== length) {
    throw new RangeError(`traceparent ${name} must be ${length} hex characters`);
  }
  let nonZero = false;
  for (let i = 0; i < length; i++) {
    const c = id.charCodeAt(i);
    if (lowerHexValue(c) < 0 && !(c >= 0x41 && c <= 0x46)) throw new RangeError(`traceparent ${name} must be hex`);
    if (c !== 0x30) nonZero = true;
  }
  if (!nonZero) throw new RangeError(`traceparent ${name} must not be all zeros`);
  return id;
}

/**
 * The `tracestate` header of W3C Trace Context Level 2
 * (https://www.w3.org/TR/trace-context-2/#tracestate-header), and an
 * OpenTelemetry `TraceState` that keeps its rules.
 *
 * A header is all or nothing: one invalid list-member, a duplicate key or more
 * than 32 members makes the whole value invalid, and it is dropped rather than
 * forwarded in part (the conformance suite's strict cases expect exactly that).
 */
import type { TraceState } from '@opentelemetry/api';

/** One `key=value` list-member of a `tracestate` header, in header order. */
export interface TracestateMember {
  readonly key: string;
  readonly value: string;
}

/** "There can be a maximum of 32 list-members in a list." (#list) */
export const TRACESTATE_MAX_MEMBERS = 32;

const COMMA = 0x2c;
const EQUALS = 0x3d;
const AT = 0x40;
const SPACE = 0x20;
const TAB = 0x09;
/** simple-key = lcalpha 0*255(...): at most 256 characters. */
const MAX_KEY_LENGTH = 256;
/** tenant-id = (lcalpha / DIGIT) 0*240(...): at most 241 characters. */
const MAX_TENANT_LENGTH = 241;
/** system-id = lcalpha 0*13(...): at most 14 characters. */
const MAX_SYSTEM_LENGTH = 14;
/** value = 0*255(chr) nblk-chr: 1 to 256 characters. */
const MAX_VALUE_LENGTH = 256;

/**
 * Parses `tracestate` into its list-members, in order; `undefined` when the value
 * is invalid and must be dropped whole.
 *
 * Several header fields (an array) are one list, combined in order with `,`
 * (#tracestate-header-field-values: "they MUST be combined into a single header
 * according to RFC9110"). Empty and whitespace-only members are allowed and
 * skipped (#list); an empty header is a valid, empty list.
 */
export function parseTracestate(value: string | readonly string[]): TracestateMember[] | undefined {
  const members: TracestateMember[] = [];
  if (typeof value === 'string') return parseInto(value, members) ? members : undefined;
  if (!Array.isArray(value)) return undefined;
  for (const part of value) {
    if (typeof part !== 'string' || !parseInto(part, members)) return undefined;
  }
  return members;
}

/**
 * Writes list-members as a `tracestate` value: `key=value` joined by `,`, no
 * optional whitespace. Members that are invalid, repeat an earlier key or come
 * after the 32nd are left out, so the result always matches the grammar.
 */
export function serializeTracestate(members: Iterable<TracestateMember>): string {
  return joinMembers(validMembers(members));
}

/**
 * `true` when `key` is a `tracestate` key: a simple-key
 * `[a-z][a-z0-9_\-*\/]{0,255}` or a multi-tenant key `tenant@system`, the tenant
 * `[a-z0-9][a-z0-9_\-*\/]{0,240}` and the system `[a-z][a-z0-9_\-*\/]{0,13}`.
 *
 * Level 2's current text (#key) relaxes this to `(lcalpha / DIGIT) 0*255(keychar)`
 * with `@` as an ordinary keychar, but the w3c/trace-context test suite at
 * STRICT_LEVEL 2 still rejects `foo@=1`, `foo@@bar=1`, `foo@bar@baz=1`, a
 * 242-character tenant and a 15-character system
 * (`test_tracestate_key_illegal_vendor_format`, `test_tracestate_key_length_limit`).
 * We keep the stricter grammar: every key it accepts is valid under both texts, so
 * what we send is valid for every receiver.
 */
export function isValidTracestateKey(key: string): boolean {
  return typeof key === 'string' && isKey(key, 0, key.length);
}

/**
 * `true` when `value` is a `tracestate` value (#value): 1 to 256 printable ASCII
 * characters (0x20-0x7E) other than `,` and `=`, not ending with a space.
 */
export function isValidTracestateValue(value: string): boolean {
  return typeof value === 'string' && isValue(value, 0, value.length);
}

/**
 * The `tracestate` header value for any OpenTelemetry `TraceState`: `''` when it
 * is empty or does not serialize to a valid header. A {@link HitchTraceState} is
 * valid by construction; another implementation's output is parsed and rewritten
 * so we never forward a malformed value.
 */
export function tracestateHeaderOf(traceState: TraceState): string {
  if (traceState instanceof HitchTraceState) return traceState.serialize();
  const serialized = traceState.serialize();
  if (typeof serialized !== 'string' || serialized.length === 0) return '';
  const members = parseTracestate(serialized);
  return members === undefined ? '' : joinMembers(members);
}

/**
 * An immutable OpenTelemetry `TraceState` that keeps the Level 2 rules
 * (#mutating-the-tracestate-field):
 *
 * - `set` validates the key and value (an invalid pair leaves the state as it is)
 *   and moves the key to the front: "Modified keys MUST be moved to the beginning
 *   (left) of the list".
 * - At most 32 members: when `set` would make 33, the last member is dropped
 *   ("entries SHOULD be removed starting from the end of tracestate", #tracestate-limits).
 * - Keys are unique: "Adding a key/value pair MUST NOT result in the same key
 *   being present multiple times."
 *
 * There is no size-based truncation: 32 valid members fit within any limit a
 * receiver is required to accept, and cutting by size is discouraged (#tracestate-limits).
 */
export class HitchTraceState implements TraceState {
  private static readonly emptyState = new HitchTraceState([]);

  private readonly _members: readonly TracestateMember[];
  /** The header value, computed once: inject runs on every outgoing request. */
  private _header: string | undefined;

  private constructor(members: readonly TracestateMember[]) {
    this._members = members;
  }

  /** The empty trace state. */
  static empty(): HitchTraceState {
    return HitchTraceState.emptyState;
  }

  /**
   * Parses one or more `tracestate` header values; `undefined` when the combined
   * value is invalid (see {@link parseTracestate}).
   */
  static fromHeader(value: string | readonly string[]): HitchTraceState | undefined {
    const members = parseTracestate(value);
    if (members === undefined) return undefined;
    return members.length === 0 ? HitchTraceState.emptyState : new HitchTraceState(members);
  }

  /**
   * Builds a trace state from members in order, leaving out invalid ones, repeated
   * keys (the first one is kept) and any after the 32nd.
   */
  static fromMembers(members: Iterable<TracestateMember>): HitchTraceState {
    const valid = validMembers(members);
    return valid.length === 0 ? HitchTraceState.emptyState : new HitchTraceState(valid);
  }

  /** Number of list-members. */
  get size(): number {
    return this._members.length;
  }

  /** The list-members in header order (left-most first). */
  members(): readonly TracestateMember[] {
    return this._members;
  }

  /** The value for `key`, or `undefined`. */
  get(key: string): string | undefined {
    for (const member of this._members) {
      if (member.key === key) return member.value;
    }
    return undefined;
  }

  /**
   * A trace state with `key` set to `value` at the front. Returns this state
   * unchanged when the key or value is invalid (OpenTelemetry's `TraceState.set`
   * has no way to report an error).
   */
  set(key: string, value: string): HitchTraceState {
    if (!isValidTracestateKey(key) || !isValidTracestateValue(value)) return this;
    const first = this._members[0];
    if (first !== undefined && first.key === key && first.value === value) return this;
    const next: TracestateMember[] = [{ key, value }];
    for (const member of this._members) {
      if (next.length === TRACESTATE_MAX_MEMBERS) break;
      if (member.key !== key) next.push(member);
    }
    return new HitchTraceState(next);
  }

  /** A trace state without `key`; this state when `key` is absent. */
  unset(key: string): HitchTraceState {
    const index = this._members.findIndex((member) => member.key === key);
    if (index < 0) return this;
    if (this._members.length === 1) return HitchTraceState.emptyState;
    return new HitchTraceState(this._members.filter((_, i) => i !== index));
  }

  /** The `tracestate` header value: `key=value` pairs joined by `,`. */
  serialize(): string {
    if (this._header === undefined) this._header = joinMembers(this._members);
    return this._header;
  }
}

/** Parses one header field into `members`; `false` when it makes the list invalid. */
function parseInto(header: string, members: TracestateMember[]): boolean {
  const length = header.length;
  let from = 0;
  for (;;) {
    let to = header.indexOf(',', from);
    if (to < 0) to = length;
    // "Spaces and horizontal tabs surrounding list-members are ignored." Trailing
    // spaces of a value are optional whitespace too (#value).
    let start = from;
    let end = to;
    while (start < end && isOws(header.charCodeAt(start))) start++;
    while (end > start && isOws(header.charCodeAt(end - 1))) end--;
    if (start < end) {
      if (members.length === TRACESTATE_MAX_MEMBERS) return false;
      const equals = header.indexOf('=', start);
      if (equals < 0 || equals >= end) return false;
      if (!isKey(header, start, equals) || !isValue(header, equals + 1, end)) return false;
      const key = header.slice(start, equals);
      // Duplicate keys make the header invalid (test_tracestate_duplicated_keys);
      // a linear scan is cheapest for at most 32 members.
      for (const member of members) {
        if (member.key === key) return false;
      }
      members.push({ key, value: header.slice(equals + 1, end) });
    }
    if (to === length) return true;
    from = to + 1;
  }
}

function validMembers(members: Iterable<TracestateMember>): TracestateMember[] {
  const valid: TracestateMember[] = [];
  for (const member of members) {
    if (valid.length === TRACESTATE_MAX_MEMBERS) break;
    if (typeof member !== 'object' || member === null) continue;
    const { key, value } = member;
    if (!isValidTracestateKey(key) || !isValidTracestateValue(value)) continue;
    if (valid.some((kept) => kept.key === key)) continue;
    valid.push({ key, value });
  }
  return valid;
}

function joinMembers(members: readonly TracestateMember[]): string {
  let header = '';
  for (const member of members) {
    if (header.length > 0) header += ',';
    header += `${member.key}=${member.value}`;
  }
  return header;
}

function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

function isLcAlpha(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** lcalpha / DIGIT / "_" / "-" / "*" / "/" */
function isKeyChar(c: number): boolean {
  return isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2a || c === 0x2f;
}

function isKey(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > MAX_KEY_LENGTH) return false;
  let at = -1;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === AT) {
      if (at >= 0) return false;
      at = i;
    } else if (!isKeyChar(c)) {
      return false;
    }
  }
  const first = text.charCodeAt(start);
  if (at < 0) return isLcAlpha(first);
  const tenantLength = at - start;
  const systemLength = end - at - 1;
  return (
    tenantLength >= 1 &&
    tenantLength <= MAX_TENANT_LENGTH &&
    (isLcAlpha(first) || isDigit(first)) &&
    systemLength >= 1 &&
    systemLength <= MAX_SYSTEM_LENGTH &&
    isLcAlpha(text.charCodeAt(at + 1))
  );
}

function isValue(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > MAX_VALUE_LENGTH) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === COMMA || c === EQUALS) return false;
  }
  // nblk-chr: the last character is not a space.
  return text.charCodeAt(end - 1) !== SPACE;
}

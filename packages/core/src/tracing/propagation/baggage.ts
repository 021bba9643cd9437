/**
 * The `baggage` header of W3C Baggage (https://www.w3.org/TR/baggage/).
 *
 * ```abnf
 * baggage-string = list-member 0*179( OWS "," OWS list-member )
 * list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
 * property       = key OWS "=" OWS value
 * property       =/ key OWS
 * key            = token                ; RFC 7230 §3.2.6
 * value          = *baggage-octet
 * baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
 * ```
 *
 * Unlike `tracestate`, an invalid list-member is skipped on its own and the rest
 * of the header is kept: "If a system determines that the value of a baggage
 * entry is not in the format defined in this specification, it MAY remove that
 * entry before propagating the baggage header" (#mutating-baggage). One bad entry
 * from one service should not erase everyone else's baggage.
 */

/** A property of a list-member: `key` or `key=value` after a `;`. */
export interface BaggageProperty {
  /** A token; property keys are not percent-decoded. */
  readonly key: string;
  /** The percent-decoded value; `undefined` for a key-only property. */
  readonly value?: string;
}

/** One list-member of a `baggage` header. */
export interface BaggageMember {
  /** A token (RFC 7230 tchar characters). */
  readonly key: string;
  /** The percent-decoded UTF-8 value (#value). */
  readonly value: string;
  /** The member's properties, in order. */
  readonly properties: readonly BaggageProperty[];
}

/**
 * At most 64 list-members. Condition 1 of #limits: a platform MUST propagate all
 * list-members when there are 64 or fewer.
 */
export const BAGGAGE_MAX_MEMBERS = 64;
/**
 * At most 8192 bytes for the whole value, separators included. Condition 2 of
 * #limits; with several `baggage` headers the limits apply to their combination.
 */
export const BAGGAGE_MAX_BYTES = 8192;

const SPACE = 0x20;
const TAB = 0x09;
const PERCENT = 0x25;
const HEX_DIGITS = '0123456789ABCDEF';
const NO_PROPERTIES: readonly BaggageProperty[] = Object.freeze([]);
/** `ignoreBOM`: a decoded value that starts with U+FEFF keeps it. Not fatal: see decode. */
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Parses one or more `baggage` header values into list-members, in order.
 *
 * - Invalid list-members are skipped, the others kept (#mutating-baggage).
 * - Duplicate keys are kept in order ("The order of duplicate entries SHOULD be
 *   preserved"); deduplicating is the consumer's choice.
 * - Limits (#limits): when the header holds more than 64 members or 8192 bytes,
 *   members are dropped whole until both limits hold ("If a platform cannot
 *   propagate all list-members, it MUST NOT propagate any partial list-members";
 *   which ones to drop is left to the implementation). We keep members in header
 *   order while they fit: a member that would pass 8192 bytes (measured as
 *   received, commas included) is dropped and later, smaller ones may still fit;
 *   scanning stops at the 64th kept member.
 */
export function parseBaggage(value: string | readonly string[]): BaggageMember[] {
  const state: ParseState = { members: [], bytes: 0 };
  if (typeof value === 'string') {
    parseInto(value, state);
  } else if (Array.isArray(value)) {
    for (const part of value) {
      if (state.members.length === BAGGAGE_MAX_MEMBERS) break;
      if (typeof part === 'string') parseInto(part, state);
    }
  }
  return state.members;
}

/**
 * Writes list-members as a `baggage` value: `key=value;property` joined by `,`,
 * values percent-encoded (see {@link encodeBaggageValue}).
 *
 * Members whose key is not a token, and properties whose key is not a token, are
 * left out. The limits (#limits) are kept by dropping whole members that do not
 * fit, never by cutting one: after 64 members the rest are dropped, and a member
 * that would take the value past 8192 bytes is dropped while later, smaller ones
 * may still go.
 */
export function serializeBaggage(members: Iterable<BaggageMember>): string {
  let header = '';
  let count = 0;
  for (const member of members) {
    if (count === BAGGAGE_MAX_MEMBERS) break;
    const text = serializeMember(member);
    if (text === undefined) continue;
    // The output is ASCII, so its length is its size in bytes.
    const size = header.length === 0 ? text.length : header.length + 1 + text.length;
    if (size > BAGGAGE_MAX_BYTES) continue;
    header = header.length === 0 ? text : `${header},${text}`;
    count++;
  }
  return header;
}

/**
 * Parses a property list such as `p1;p2=v%202` (an OpenTelemetry baggage entry's
 * metadata string; a leading `;` is allowed). Invalid properties are skipped one
 * by one; values are percent-decoded.
 */
export function parseBaggageProperties(value: string): BaggageProperty[] {
  const properties: BaggageProperty[] = [];
  if (typeof value !== 'string') return properties;
  const length = value.length;
  let from = 0;
  for (;;) {
    let to = value.indexOf(';', from);
    if (to < 0) to = length;
    const property = parseProperty(value, from, to);
    if (property !== undefined) properties.push(property);
    if (to === length) return properties;
    from = to + 1;
  }
}

/** Writes properties as `p1;p2=value`, values percent-encoded; non-token keys are left out. */
export function serializeBaggageProperties(properties: readonly BaggageProperty[]): string {
  let text = '';
  for (const property of properties) {
    const written = serializeProperty(property);
    if (written === undefined) continue;
    text = text.length === 0 ? written : `${text};${written}`;
  }
  return text;
}

/** `true` when `key` is an RFC 7230 token, as baggage keys and property keys must be. */
export function isBaggageKey(key: string): boolean {
  return typeof key === 'string' && isToken(key, 0, key.length);
}

/**
 * Percent-encodes a baggage value (#value): "Any characters outside of the
 * baggage-octet range of characters MUST be percent-encoded", and so is `%`
 * itself, which would otherwise be read back as the start of an escape. The
 * string is encoded as UTF-8 first; a lone surrogate becomes U+FFFD. Hex digits
 * are upper case (RFC 3986 §2.1).
 */
export function encodeBaggageValue(value: string): string {
  const length = value.length;
  let i = 0;
  while (i < length && isPlainOctet(value.charCodeAt(i))) i++;
  if (i === length) return value;

  let out = value.slice(0, i);
  let runStart = i;
  while (i < length) {
    const c = value.charCodeAt(i);
    if (isPlainOctet(c)) {
      i++;
      continue;
    }
    if (runStart < i) out += value.slice(runStart, i);
    if (c < 0x80) {
      out += percent(c);
      i++;
    } else {
      const codePoint = codePointAt(value, i);
      out += percentUtf8(codePoint);
      i += codePoint > 0xffff ? 2 : 1;
    }
    runStart = i;
  }
  if (runStart < length) out += value.slice(runStart);
  return out;
}

/**
 * Percent-decodes a baggage value (#value). Escaped bytes are read as UTF-8, and
 * "percent-encoded octet sequences that do not match the UTF-8 encoding scheme
 * MUST be replaced with the replacement code point (U+FFFD)". A `%` not followed
 * by two hex digits is kept as it is, as the WHATWG URL percent-decode does;
 * decoding never throws.
 */
export function decodeBaggageValue(value: string): string {
  if (value.indexOf('%') < 0) return value;
  // Fast path: ASCII text whose escapes are all ASCII needs no UTF-8 decoder.
  const length = value.length;
  let out = '';
  let runStart = 0;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) return decodeUtf8(value);
    if (c !== PERCENT || i + 2 >= length) continue;
    const high = hexValue(value.charCodeAt(i + 1));
    const low = hexValue(value.charCodeAt(i + 2));
    if (high < 0 || low < 0) continue;
    const byte = (high << 4) | low;
    if (byte >= 0x80) return decodeUtf8(value);
    out += value.slice(runStart, i) + String.fromCharCode(byte);
    i += 2;
    runStart = i + 1;
  }
  return runStart === 0 ? value : out + value.slice(runStart);
}

/** Decodes escapes to bytes, other characters to their UTF-8 bytes, then reads the bytes as UTF-8. */
function decodeUtf8(value: string): string {
  const length = value.length;
  // Up to 3 UTF-8 bytes per UTF-16 code unit.
  const bytes = new Uint8Array(length * 3);
  let n = 0;
  let i = 0;
  while (i < length) {
    const c = value.charCodeAt(i);
    if (c === PERCENT && i + 2 < length) {
      const high = hexValue(value.charCodeAt(i + 1));
      const low = hexValue(value.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        bytes[n++] = (high << 4) | low;
        i += 3;
        continue;
      }
    }
    if (c < 0x80) {
      bytes[n++] = c;
      i++;
    } else {
      const codePoint = codePointAt(value, i);
      n = writeUtf8(codePoint, bytes, n);
      i += codePoint > 0xffff ? 2 : 1;
    }
  }
  return utf8Decoder.decode(bytes.subarray(0, n));
}

interface ParseState {
  readonly members: BaggageMember[];
  /** Bytes of the kept members as received, commas between them included. */
  bytes: number;
}

function parseInto(header: string, state: ParseState): void {
  const length = header.length;
  let from = 0;
  for (;;) {
    if (state.members.length === BAGGAGE_MAX_MEMBERS) return;
    let to = header.indexOf(',', from);
    if (to < 0) to = length;
    let start = from;
    let end = to;
    while (start < end && isOws(header.charCodeAt(start))) start++;
    while (end > start && isOws(header.charCodeAt(end - 1))) end--;
    if (start < end) {
      // A valid member is ASCII, so characters are bytes.
      const size = state.members.length === 0 ? end - start : state.bytes + 1 + (end - start);
      if (size <= BAGGAGE_MAX_BYTES) {
        const member = parseMember(header, start, end);
        if (member !== undefined) {
          state.members.push(member);
          state.bytes = size;
        }
      }
    }
    if (to === length) return;
    from = to + 1;
  }
}

/** Parses the list-member in `[start, end)`, already trimmed of OWS; `undefined` when invalid. */
function parseMember(header: string, start: number, end: number): BaggageMember | undefined {
  const equals = header.indexOf('=', start);
  if (equals < 0 || equals >= end) return undefined;
  let keyEnd = equals;
  while (keyEnd > start && isOws(header.charCodeAt(keyEnd - 1))) keyEnd--;
  if (!isToken(header, start, keyEnd)) return undefined;

  // The value runs to the first `;`: `;` is not a baggage-octet, `=` is
  // ("Parsers MUST NOT assume that the equal sign is only used to separate key and value").
  let valueEnd = header.indexOf(';', equals + 1);
  if (valueEnd < 0 || valueEnd > end) valueEnd = end;
  const propertiesStart = valueEnd;
  let valueStart = equals + 1;
  while (valueStart < valueEnd && isOws(header.charCodeAt(valueStart))) valueStart++;
  while (valueEnd > valueStart && isOws(header.charCodeAt(valueEnd - 1))) valueEnd--;
  if (!isOctets(header, valueStart, valueEnd)) return undefined;

  let properties = NO_PROPERTIES;
  if (propertiesStart < end) {
    const parsed: BaggageProperty[] = [];
    let from = propertiesStart + 1;
    for (;;) {
      let to = header.indexOf(';', from);
      if (to < 0 || to > end) to = end;
      const property = parseProperty(header, from, to);
      // A malformed property makes the member malformed (it is not a list-member
      // by the grammar), so the member is skipped like any other invalid one.
      if (property === undefined) return undefined;
      parsed.push(property);
      if (to === end) break;
      from = to + 1;
    }
    properties = parsed;
  }

  return {
    key: header.slice(start, keyEnd),
    value: decodeBaggageValue(header.slice(valueStart, valueEnd)),
    properties,
  };
}

/** Parses the property in `[from, to)`, with optional whitespace around it; `undefined` when invalid. */
function parseProperty(text: string, from: number, to: number): BaggageProperty | undefined {
  let start = from;
  let end = to;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  if (start === end) return undefined;
  const equals = text.indexOf('=', start);
  if (equals < 0 || equals >= end) {
    return isToken(text, start, end) ? { key: text.slice(start, end) } : undefined;
  }
  let keyEnd = equals;
  while (keyEnd > start && isOws(text.charCodeAt(keyEnd - 1))) keyEnd--;
  let valueStart = equals + 1;
  while (valueStart < end && isOws(text.charCodeAt(valueStart))) valueStart++;
  if (!isToken(text, start, keyEnd) || !isOctets(text, valueStart, end)) return undefined;
  return { key: text.slice(start, keyEnd), value: decodeBaggageValue(text.slice(valueStart, end)) };
}

function serializeMember(member: BaggageMember): string | undefined {
  if (typeof member !== 'object' || member === null) return undefined;
  const { key, value, properties } = member;
  if (!isBaggageKey(key) || typeof value !== 'string') return undefined;
  let text = `${key}=${encodeBaggageValue(value)}`;
  if (Array.isArray(properties) && properties.length > 0) {
    const written = serializeBaggageProperties(properties);
    if (written.length > 0) text += `;${written}`;
  }
  return text;
}

function serializeProperty(property: BaggageProperty): string | undefined {
  if (typeof property !== 'object' || property === null || !isBaggageKey(property.key)) return undefined;
  if (property.value === undefined) return property.key;
  if (typeof property.value !== 'string') return undefined;
  return `${property.key}=${encodeBaggageValue(property.value)}`;
}

function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** RFC 7230 §3.2.6 tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA. */
function isTchar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  switch (c) {
    case 0x21: // !
    case 0x23: // #
    case 0x24: // $
    case 0x25: // %
    case 0x26: // &
    case 0x27: // '
    case 0x2a: // *
    case 0x2b: // +
    case 0x2d: // -
    case 0x2e: // .
    case 0x5e: // ^
    case 0x5f: // _
    case 0x60: // `
    case 0x7c: // |
    case 0x7e: // ~
      return true;
    default:
      return false;
  }
}

/** token = 1*tchar */
function isToken(text: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) {
    if (!isTchar(text.charCodeAt(i))) return false;
  }
  return true;
}

/** baggage-octet: printable ASCII except space, `"`, `,`, `;` and `\`. */
function isBaggageOctet(c: number): boolean {
  return c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c;
}

/** A baggage-octet that is written as it is: every one but `%`. */
function isPlainOctet(c: number): boolean {
  return c !== PERCENT && isBaggageOctet(c);
}

/** value = *baggage-octet (empty is allowed). */
function isOctets(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (!isBaggageOctet(text.charCodeAt(i))) return false;
  }
  return true;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

function percent(byte: number): string {
  return `%${HEX_DIGITS.charAt(byte >> 4)}${HEX_DIGITS.charAt(byte & 0x0f)}`;
}

/** The code point at `i`; a lone surrogate reads as U+FFFD. */
function codePointAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff) {
    const next = text.charCodeAt(i + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return ((c - 0xd800) << 10) + (next - 0xdc00) + 0x10000;
    return 0xfffd;
  }
  if (c >= 0xdc00 && c <= 0xdfff) return 0xfffd;
  return c;
}

function writeUtf8(codePoint: number, bytes: Uint8Array, at: number): number {
  let n = at;
  if (codePoint < 0x80) {
    bytes[n++] = codePoint;
  } else if (codePoint < 0x800) {
    bytes[n++] = 0xc0 | (codePoint >> 6);
    bytes[n++] = 0x80 | (codePoint & 0x3f);
  } else if (codePoint < 0x10000) {
    bytes[n++] = 0xe0 | (codePoint >> 12);
    bytes[n++] = 0x80 | ((codePoint >> 6) & 0x3f);
    bytes[n++] = 0x80 | (codePoint & 0x3f);
  } else {
    bytes[n++] = 0xf0 | (codePoint >> 18);
    bytes[n++] = 0x80 | ((codePoint >> 12) & 0x3f);
    bytes[n++] = 0x80 | ((codePoint >> 6) & 0x3f);
    bytes[n++] = 0x80 | (codePoint & 0x3f);
  }
  return n;
}

const utf8Scratch = new Uint8Array(4);

function percentUtf8(codePoint: number): string {
  const n = writeUtf8(codePoint, utf8Scratch, 0);
  let out = '';
  for (let i = 0; i < n; i++) out += percent(utf8Scratch[i] ?? 0);
  return out;
}

/**
 * Splitting names into words, the unit every naming rule is written in.
 */

const UPPER_A = 65;
const UPPER_Z = 90;
const LOWER_A = 97;
const LOWER_Z = 122;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const UNDERSCORE = 95;
const COLON = 58;

/** Whether `c` is an ASCII upper-case letter. */
export function isUpper(c: number): boolean {
  return c >= UPPER_A && c <= UPPER_Z;
}

/** Whether `c` is an ASCII lower-case letter. */
export function isLower(c: number): boolean {
  return c >= LOWER_A && c <= LOWER_Z;
}

/** Whether `c` is an ASCII digit. */
export function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

/** Whether `c` is `_`. */
export function isUnderscore(c: number): boolean {
  return c === UNDERSCORE;
}

/** Whether `c` is `:`. */
export function isColon(c: number): boolean {
  return c === COLON;
}

// Any ASCII character that is not a letter or digit separates words, so
// "http.server.duration" and "job:requests:rate5m" split like snake_case.
// Non-ASCII characters stay inside words: they are invalid anyway, and
// splitting on them would invent words (and units) that are not there.
function isSeparator(c: number): boolean {
  return c < 128 && !isUpper(c) && !isLower(c) && !isDigit(c);
}

/** Whether the name starts with a separator, i.e. its first word is not at the very start. */
export function startsWithSeparator(name: string): boolean {
  return name.length > 0 && isSeparator(name.charCodeAt(0));
}

/**
 * Splits a name into lower-case words at separators and camelCase
 * boundaries: "rideCount" -> ["ride", "count"], "HTTPRequests_total" ->
 * ["http", "requests", "total"], "http2Requests" -> ["http2", "requests"].
 * Empty words (from "__" or leading/trailing separators) are dropped.
 */
export function splitWords(name: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isSeparator(c)) {
      if (start >= 0) words.push(name.slice(start, i).toLowerCase());
      start = -1;
    } else if (start < 0) {
      start = i;
    } else if (isUpper(c)) {
      const previous = name.charCodeAt(i - 1);
      // "fooBar" and "http2Requests" break before the capital; an acronym
      // breaks before its last capital when a lower-case letter follows
      // ("HTTPRequests" -> "HTTP", "Requests").
      if (
        isLower(previous) ||
        isDigit(previous) ||
        (isUpper(previous) && i + 1 < name.length && isLower(name.charCodeAt(i + 1)))
      ) {
        words.push(name.slice(start, i).toLowerCase());
        start = i;
      }
    }
  }
  if (start >= 0) words.push(name.slice(start).toLowerCase());
  return words;
}

/**
 * Whether `name[from..]` is snake_case: lower-case letters and digits in
 * words joined by single underscores, starting with a letter. When
 * `colonIsUnderscore`, a `:` counts as `_` (colons get their own problem).
 */
export function isSnakeCase(name: string, from: number, colonIsUnderscore: boolean): boolean {
  if (from >= name.length || !isLower(name.charCodeAt(from))) return false;
  let previousWasUnderscore = false;
  for (let i = from + 1; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isUnderscore(c) || (colonIsUnderscore && isColon(c))) {
      if (previousWasUnderscore) return false;
      previousWasUnderscore = true;
    } else if (isLower(c) || isDigit(c)) {
      previousWasUnderscore = false;
    } else {
      return false;
    }
  }
  return !previousWasUnderscore;
}

import { InvalidIdError } from '../errors/invalid-id-error.js';
import type { SnowflakeId } from '../types.js';

/** The largest id: 63 bits, the sign bit 0. */
export const MAX_ID = (1n << 63n) - 1n;
// What nextString() produces. BigInt() alone would also take '' (as 0n), surrounding spaces,
// `0x`/`0o`/`0b` prefixes and leading zeros.
const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]{0,18})$/;

/** An id as a bigint in 0..2^63-1, or an InvalidIdError. */
export function parseId(id: SnowflakeId): bigint {
  let value: bigint;
  if (typeof id === 'bigint') {
    value = id;
  } else if (typeof id === 'string') {
    if (!CANONICAL_DECIMAL.test(id)) {
      throw new InvalidIdError(id, 'expected a decimal string of at most 19 digits as nextString() returns it (no sign, spaces or leading zeros)');
    }
    value = BigInt(id);
  } else {
    const hint = typeof id === 'number' ? ' (a number loses digits above 2^53: keep ids as bigint or string)' : '';
    throw new InvalidIdError(id, `expected a bigint or a decimal string, got ${typeof id}${hint}`);
  }
  if (value < 0n || value > MAX_ID) throw new InvalidIdError(id, 'out of range: ids are integers in 0..2^63-1');
  return value;
}

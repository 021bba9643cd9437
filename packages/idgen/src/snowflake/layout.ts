import { SNOWFLAKE_DEFAULTS } from '../defaults.js';
import { InvalidSnowflakeOptionError } from '../errors/invalid-snowflake-option-error.js';
import type { SnowflakeLayout } from '../types.js';
import { showValue } from './show-value.js';

/** Bits an id uses; the 64th (sign) bit stays 0. */
export const ID_BITS = 63;
/** The sequence lives in the low 32-bit word of the id (see SnowflakeGenerator.next). */
export const MAX_SEQUENCE_BITS = 32;

const FIELDS = ['timestampBits', 'datacenterBits', 'workerBits', 'sequenceBits'] as const;

/** A validated layout and the bit positions derived from it. */
export interface BitLayout extends SnowflakeLayout {
  /** Position of the lowest bit of each field. */
  readonly timestampShift: number;
  readonly datacenterShift: number;
  readonly workerShift: number;
  readonly maxTimestamp: number;
  readonly maxDatacenterId: number;
  readonly maxWorkerId: number;
  readonly maxSequence: number;
}

/** Largest value a field of `bits` bits holds, capped at the largest exact integer. */
export function maxOfBits(bits: number): number {
  return Math.min(2 ** bits - 1, Number.MAX_SAFE_INTEGER);
}

export function normalizeLayout(layout: unknown): BitLayout {
  if (layout !== undefined && (typeof layout !== 'object' || layout === null || Array.isArray(layout))) {
    throw new InvalidSnowflakeOptionError('layout', `must be an object such as { workerBits: 8, datacenterBits: 2 }, got ${showValue(layout)}`);
  }
  const given = (layout ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      throw new InvalidSnowflakeOptionError(`layout.${key}`, `is not a layout field; the fields are ${FIELDS.join(', ')}`);
    }
  }
  const bits = {} as Record<(typeof FIELDS)[number], number>;
  for (const field of FIELDS) {
    const value = given[field] ?? SNOWFLAKE_DEFAULTS.layout[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new InvalidSnowflakeOptionError(`layout.${field}`, `must be an integer of at least 1, got ${showValue(value)}`);
    }
    bits[field] = value;
  }
  if (bits.sequenceBits > MAX_SEQUENCE_BITS) {
    throw new InvalidSnowflakeOptionError('layout.sequenceBits', `must be at most ${MAX_SEQUENCE_BITS} (2^32 ids per millisecond), got ${bits.sequenceBits}`);
  }
  const total = bits.timestampBits + bits.datacenterBits + bits.workerBits + bits.sequenceBits;
  if (total !== ID_BITS) {
    const fix = total > ID_BITS ? `take ${total - ID_BITS} bit${total - ID_BITS === 1 ? '' : 's'} from` : `give ${ID_BITS - total} more bit${ID_BITS - total === 1 ? '' : 's'} to`;
    throw new InvalidSnowflakeOptionError(
      'layout',
      `the fields must add up to ${ID_BITS} bits (the sign bit stays 0), got ${bits.timestampBits} + ${bits.datacenterBits} + ` +
        `${bits.workerBits} + ${bits.sequenceBits} = ${total}; ${fix} a field`,
    );
  }
  const workerShift = bits.sequenceBits;
  const datacenterShift = workerShift + bits.workerBits;
  const timestampShift = datacenterShift + bits.datacenterBits;
  return Object.freeze({
    ...bits,
    timestampShift,
    datacenterShift,
    workerShift,
    maxTimestamp: maxOfBits(bits.timestampBits),
    maxDatacenterId: maxOfBits(bits.datacenterBits),
    maxWorkerId: maxOfBits(bits.workerBits),
    maxSequence: maxOfBits(bits.sequenceBits),
  });
}

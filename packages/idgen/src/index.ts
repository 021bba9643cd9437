// The public surface of @hitch/idgen. Every export is named here; nothing else is public.
export { createSnowflake, SnowflakeGenerator } from './snowflake/snowflake-generator.js';
export { SNOWFLAKE_DEFAULTS, MAX_WAIT_MS } from './defaults.js';
export type { DecodedSnowflake, SnowflakeId, SnowflakeLayout, SnowflakeOptions, WorkerIdSource } from './types.js';

export { IdgenErrorCode } from './errors/error-code.js';
export { InvalidSnowflakeOptionError, isInvalidSnowflakeOptionError } from './errors/invalid-snowflake-option-error.js';
export { InvalidIdError, isInvalidIdError } from './errors/invalid-id-error.js';
export { ClockMovedBackwardsError, isClockMovedBackwardsError } from './errors/clock-moved-backwards-error.js';
export { SequenceExhaustedError, isSequenceExhaustedError } from './errors/sequence-exhausted-error.js';
export { TimestampOverflowError, isTimestampOverflowError } from './errors/timestamp-overflow-error.js';

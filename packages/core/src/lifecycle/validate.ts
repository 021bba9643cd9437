import { InvalidOptionError } from '../errors/hitch-error.js';

/** The longest delay a Node timer honours: beyond it, `setTimeout` fires after 1 ms instead. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A number of milliseconds in [1, {@link MAX_TIMER_MS}] (a timeout). */
export function positiveMs(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(option, `should be a positive number of milliseconds (at most ${MAX_TIMER_MS}), got ${describe(value)}`);
  }
  return value;
}

/** A number of milliseconds in [0, {@link MAX_TIMER_MS}] (a delay that may be skipped). */
export function nonNegativeMs(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(option, `should be a non-negative number of milliseconds (at most ${MAX_TIMER_MS}), got ${describe(value)}`);
  }
  return value;
}

export function nonEmptyName(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidOptionError(option, `should be a non-empty string, got ${describe(value)}`);
  return value;
}

export function optionsObject<T extends object>(option: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(option, `should be an options object, got ${describe(value)}`);
  }
  return value;
}

/** A value as it reads in an error message: strings quoted, the rest as `String()` gives them. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}

/** An error's message (anything thrown), for reports: reports are JSON, errors are not. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message === '' ? error.name : error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** Milliseconds rounded to microseconds: enough precision, readable JSON. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

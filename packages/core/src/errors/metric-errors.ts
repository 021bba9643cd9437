import type { NamingProblem } from '../naming/index.js';
import { ErrorCode, HitchError } from './hitch-error.js';

/** A metric or label name breaks the naming rules of `@hitch/core/naming`. */
export class MetricNameError extends HitchError {
  readonly code = ErrorCode.MetricName;
  readonly isMetricNameError = true;
  /** The offending name. */
  readonly metricName: string;
  /** Every rule the name breaks; each message says the fix. */
  readonly problems: readonly NamingProblem[];

  constructor(what: string, name: string, problems: readonly NamingProblem[]) {
    super(`invalid ${what} "${name}": ${problems.map((p) => p.message).join('; ')}`);
    this.metricName = name;
    this.problems = problems;
  }
}

export function isMetricNameError(error: unknown): error is MetricNameError {
  return typeof error === 'object' && error !== null && (error as { isMetricNameError?: unknown }).isMetricNameError === true;
}

/**
 * A metric registration is invalid: missing help, an undeclared or unbounded label, bad
 * buckets, a name already registered with a different definition.
 */
export class MetricRegistrationError extends HitchError {
  readonly code = ErrorCode.MetricRegistration;
  readonly isMetricRegistrationError = true;
  readonly metricName: string;

  constructor(metricName: string, message: string) {
    super(`metric "${metricName}": ${message}`);
    this.metricName = metricName;
  }
}

export function isMetricRegistrationError(error: unknown): error is MetricRegistrationError {
  return (
    typeof error === 'object' && error !== null && (error as { isMetricRegistrationError?: unknown }).isMetricRegistrationError === true
  );
}

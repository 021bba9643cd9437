/**
 * The checks the registry, the ESLint rule and the exposition linter share.
 */
import { analyzeLabelName } from './label-name.js';
import { analyzeMetricName } from './metric-name.js';
import type { MetricType } from './metric-type.js';
import { toProblems, type NamingProblem } from './problem.js';
import { labelSuggestionFor, suggestionFor } from './suggest.js';

/**
 * Checks a metric name against promlint's rules and the Prometheus naming
 * guide (https://prometheus.io/docs/practices/naming/). Returns `[]` when the
 * name is valid. When a fix exists, every problem carries it as `suggestion`
 * and its message ends with `: try "<fix>"`.
 *
 * @example checkMetricName('rideCount', 'counter')
 * // [{ code: 'not_snake_case', message: '"rideCount" must be snake_case: try "ride_count_total"', suggestion: 'ride_count_total' },
 * //  { code: 'counter_missing_total', ... }]
 */
export function checkMetricName(name: string, type: MetricType): NamingProblem[] {
  const analysis = analyzeMetricName(name, type);
  if (analysis.issues.length === 0) return [];
  return toProblems(analysis.issues, suggestionFor(analysis, type));
}

/**
 * Checks the name of a label declared on a metric of `type`. Returns `[]`
 * when the name is valid; problems carry the fix as for {@link checkMetricName}.
 */
export function checkLabelName(name: string, type: MetricType): NamingProblem[] {
  const issues = analyzeLabelName(name, type);
  if (issues.length === 0) return [];
  return toProblems(issues, labelSuggestionFor(name));
}

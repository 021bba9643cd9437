/**
 * Metric and label naming rules shared by the metrics registry, the ESLint
 * rule and the exposition linter. Dependency-free on purpose: the lint tools
 * import this module on its own.
 */
export { checkLabelName, checkMetricName } from './check.js';
export { METRIC_TYPES } from './metric-type.js';
export type { MetricType } from './metric-type.js';
export { NamingProblemCode } from './problem.js';
export type { NamingProblem } from './problem.js';
export { suggestLabelName, suggestMetricName } from './suggest.js';
export { BASE_UNITS, baseUnitOf } from './units.js';
export type { BaseUnit } from './units.js';

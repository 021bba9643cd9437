/**
 * The rules for label names a user declares on a metric: the Prometheus
 * grammar, snake_case, and the labels histograms and summaries generate
 * (promlint's lintHistogramSummaryReserved and lintCamelCase,
 * https://github.com/prometheus/client_golang/tree/main/prometheus/testutil/promlint).
 */
import type { MetricType } from './metric-type.js';
import { NamingProblemCode, quote, type NamingIssue } from './problem.js';
import { isSnakeCase } from './words.js';

// https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels
const LABEL_NAME_GRAMMAR = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function reservedLabelText(name: 'le' | 'quantile', type: MetricType | undefined): string {
  if (name === 'le') {
    return type === 'histogram'
      ? 'label "le" is reserved for the bucket bounds the histogram adds'
      : 'label "le" is reserved for histogram bucket bounds';
  }
  return type === 'summary'
    ? 'label "quantile" is reserved for the quantiles the summary adds'
    : 'label "quantile" is reserved for summary quantiles';
}

/**
 * Applies every label-name rule; empty when the name is valid. Without a
 * metric type (when validating a fix), reserved labels get the generic message.
 */
export function analyzeLabelName(name: string, type: MetricType | undefined): NamingIssue[] {
  const issues: NamingIssue[] = [];
  if (name.length === 0) {
    issues.push({ code: NamingProblemCode.Empty, text: 'label name must not be empty' });
    return issues;
  }
  const q = quote(name);
  if (!LABEL_NAME_GRAMMAR.test(name)) {
    issues.push({
      code: NamingProblemCode.InvalidCharacters,
      text: `label ${q} must contain only letters, digits and underscores, starting with a letter`,
    });
    return issues;
  }
  const reservedPrefix = name.startsWith('__');
  if (reservedPrefix) {
    issues.push({
      code: NamingProblemCode.ReservedPrefix,
      text: `label ${q} must not start with "__" (reserved for Prometheus internals)`,
      hint: 'remove the leading underscores',
    });
  }
  if (!isSnakeCase(name, reservedPrefix ? 2 : 0, false)) {
    issues.push({
      code: NamingProblemCode.NotSnakeCase,
      text: `label ${q} must be snake_case`,
      hint: 'lower-case letters and digits, words joined by single underscores, starting with a letter',
    });
  }
  // promlint: "non-histogram metrics should not have "le" label", "non-summary
  // metrics should not have "quantile" label". On the type that generates the
  // label, declaring it would collide with the generated one.
  if (name === 'le' || name === 'quantile') {
    issues.push({ code: NamingProblemCode.ReservedLabel, text: reservedLabelText(name, type), hint: 'choose another name' });
  }
  return issues;
}

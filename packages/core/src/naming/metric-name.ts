/**
 * The rules for metric names: promlint's
 * (https://github.com/prometheus/client_golang/tree/main/prometheus/testutil/promlint)
 * plus the rest of the Prometheus naming guide
 * (https://prometheus.io/docs/practices/naming/). Every name accepted here
 * passes `promtool check metrics`; test/naming-promtool.test.ts checks that
 * against the real promtool.
 */
import type { MetricType } from './metric-type.js';
import { NamingProblemCode, pushIssue, quote, type NamingIssue } from './problem.js';
import { unitWord, type BaseUnit } from './units.js';
import { isSnakeCase, isUnderscore, splitWords, startsWithSeparator } from './words.js';

// https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels
const METRIC_NAME_GRAMMAR = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Words naming a metric type; promlint's lintMetricTypeInName rejects them. */
export const TYPE_WORDS: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary']);

/**
 * Series suffixes client libraries generate: histograms add `_bucket`,
 * histograms and summaries `_count` and `_sum`, OpenMetrics `_created`. A
 * declared name ending in one collides with (or reads like) a generated series,
 * whatever its own type, so every type is refused them (promlint only refuses
 * them on types that do not generate them).
 */
export const RESERVED_SUFFIXES: ReadonlyMap<string, string> = new Map([
  ['bucket', 'histograms add it'],
  ['count', 'histograms and summaries add it'],
  ['sum', 'histograms and summaries add it'],
  ['created', 'OpenMetrics adds it to counters, histograms and summaries'],
]);

const TOTAL_SUFFIX = '_total';

/** What the rules found in a metric name, kept for building the fix. */
export interface MetricNameAnalysis {
  readonly issues: readonly NamingIssue[];
  /** Lower-case words of the name (see `splitWords`). */
  readonly words: readonly string[];
  /** The name literally ends in `_total`, as promlint's lintCounter tests it. */
  readonly hasTotal: boolean;
  /** The reserved word the name literally ends in after `_`, if any. */
  readonly reservedSuffix: string | undefined;
  /** The first word does not start the name, so it may be an abbreviated unit. */
  readonly leadingSeparator: boolean;
}

function reservedSuffixOf(name: string): string | undefined {
  for (const suffix of RESERVED_SUFFIXES.keys()) {
    const at = name.length - suffix.length - 1;
    if (at >= 0 && isUnderscore(name.charCodeAt(at)) && name.endsWith(suffix)) return suffix;
  }
  return undefined;
}

function conversion(base: BaseUnit): string {
  return base === 'ratio' ? 'a ratio (0 to 1)' : base;
}

/** Applies every metric-name rule; `issues` is empty when the name is valid. */
export function analyzeMetricName(name: string, type: MetricType): MetricNameAnalysis {
  const issues: NamingIssue[] = [];
  if (name.length === 0) {
    issues.push({ code: NamingProblemCode.Empty, text: 'metric name must not be empty' });
    return { issues, words: [], hasTotal: false, reservedSuffix: undefined, leadingSeparator: false };
  }
  const q = quote(name);

  if (!METRIC_NAME_GRAMMAR.test(name)) {
    issues.push({
      code: NamingProblemCode.InvalidCharacters,
      text: `${q} must contain only letters, digits and underscores, starting with a letter`,
    });
  } else {
    if (name.includes(':')) {
      issues.push({
        code: NamingProblemCode.Colon,
        text: `${q} must not contain ":" (reserved for recording rules)`,
        hint: 'use "_" instead',
      });
    }
    const reservedPrefix = name.startsWith('__');
    if (reservedPrefix) {
      issues.push({
        code: NamingProblemCode.ReservedPrefix,
        text: `${q} must not start with "__" (reserved for Prometheus internals)`,
        hint: 'remove the leading underscores',
      });
    }
    if (!isSnakeCase(name, reservedPrefix ? 2 : 0, true)) {
      issues.push({
        code: NamingProblemCode.NotSnakeCase,
        text: `${q} must be snake_case`,
        hint: 'lower-case letters and digits, words joined by single underscores, starting with a letter',
      });
    }
  }

  const words = splitWords(name);
  const leadingSeparator = startsWithSeparator(name);
  const hasTotal = name.endsWith(TOTAL_SUFFIX);
  const reservedSuffix = reservedSuffixOf(name);
  const isCounter = type === 'counter';

  // Words are checked wherever they are: promlint checks type words and
  // abbreviations after any "_", and units in every "_"-separated token.
  for (const word of words) {
    if (TYPE_WORDS.has(word)) {
      pushIssue(issues, {
        code: NamingProblemCode.TypeInName,
        text: `${q} must not contain the metric type ${quote(word)}`,
        hint: 'the type is already in the metadata; remove the word',
      });
    }
  }

  if (reservedSuffix !== undefined) {
    pushIssue(issues, {
      code: NamingProblemCode.ReservedSuffix,
      text: `${q} must not end in ${quote(`_${reservedSuffix}`)} (${RESERVED_SUFFIXES.get(reservedSuffix) ?? ''})`,
      hint: 'remove it',
    });
  }

  if (isCounter && !hasTotal) {
    issues.push({ code: NamingProblemCode.CounterMissingTotal, text: `${q} is a counter and must end in "_total"` });
  } else if (!isCounter && hasTotal) {
    issues.push({
      code: NamingProblemCode.TotalOnNonCounter,
      text: `${q} is a ${type} and must not end in "_total" (only counters do)`,
      hint: 'remove it',
    });
  }

  // The unit, if any, is the last word before the generated/`_total` suffix:
  // https://prometheus.io/docs/practices/naming/#metric-names ("a suffix
  // describing the unit, in plural form"; counters: "_total" after the unit).
  // "ratio" is a base unit like any other, so it too goes last. "info" is an
  // ordinary word: info metrics always have the value 1 and so no unit, and a
  // unit before "_info" counts as misplaced (with no automatic fix, see
  // suggest.ts).
  const coreEnd = words.length - (hasTotal || reservedSuffix !== undefined ? 1 : 0);
  let unitName: string | undefined;
  let unitNames: string[] | undefined;
  let unitNotLast = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    const unit = unitWord(word, i > 0 || leadingSeparator);
    if (unit === undefined) continue;
    if (unit.kind === 'non_base' && unit.base !== undefined) {
      pushIssue(issues, {
        code: NamingProblemCode.NonBaseUnit,
        text:
          `${q} must use the base unit ${quote(unit.base)} instead of ${quote(word)}` +
          (unit.sameScale ? '' : ` and convert values to ${conversion(unit.base)}`),
      });
    } else if (unit.kind === 'abbreviation') {
      if (unit.base !== undefined) {
        pushIssue(issues, {
          code: NamingProblemCode.AbbreviatedUnit,
          text:
            `${q} must use the base unit ${quote(unit.base)} instead of the abbreviation ${quote(word)}` +
            (unit.sameScale ? '' : ` and convert values to ${conversion(unit.base)}`),
        });
      } else {
        pushIssue(issues, {
          code: NamingProblemCode.AbbreviatedUnit,
          text: `${q} must not use the abbreviation ${quote(word)} for a unit`,
          hint: `spell out the base unit it stands for (${unit.candidates.map(quote).join(' or ')}) and convert values to it`,
        });
      }
    }
    const key = unit.base ?? word;
    if (unitName === undefined) {
      unitName = key;
    } else if (key !== unitName) {
      unitNames ??= [unitName];
      if (!unitNames.includes(key)) unitNames.push(key);
    }
    if (i < coreEnd - 1) unitNotLast = true;
  }
  const where = isCounter ? 'the last word before "_total"' : 'the last word';
  if (unitNames !== undefined) {
    issues.push({
      code: NamingProblemCode.UnitNotSuffix,
      text: `${q} must have one unit, not ${unitNames.map(quote).join(' and ')}`,
      hint: `keep one base unit, as ${where}`,
    });
  } else if (unitNotLast && unitName !== undefined) {
    issues.push({
      code: NamingProblemCode.UnitNotSuffix,
      text: `${q} must have its unit ${quote(unitName)} as ${where}`,
    });
  }

  return { issues, words, hasTotal, reservedSuffix, leadingSeparator };
}

/**
 * Fixes: one name that repairs every fixable problem at once. A fix is only
 * offered when it passes every rule itself, so applying it never needs a
 * second round.
 */
import { analyzeLabelName } from './label-name.js';
import { analyzeMetricName, RESERVED_SUFFIXES, TYPE_WORDS, type MetricNameAnalysis } from './metric-name.js';
import type { MetricType } from './metric-type.js';
import { unitWord, type BaseUnit } from './units.js';
import { splitWords } from './words.js';

function isSuffixWord(word: string | undefined): boolean {
  return word !== undefined && (word === 'total' || RESERVED_SUFFIXES.has(word));
}

/**
 * Rebuilds the name from its words: generated suffixes and type words
 * dropped, units mapped to their base unit and moved last, `_total` last on
 * counters. Returns a candidate that still has to be validated.
 */
function repairMetricName(analysis: MetricNameAnalysis, type: MetricType): string | undefined {
  const { words } = analysis;
  const isCounter = type === 'counter';
  let end = words.length;
  if (analysis.hasTotal || analysis.reservedSuffix !== undefined) {
    end--;
    // "queue_depth_count_total" on a gauge: both suffixes go. A counter keeps
    // what precedes its "_total" ("jobs_count_total" is a valid counter).
    if (!(isCounter && analysis.hasTotal)) {
      while (end > 1 && isSuffixWord(words[end - 1])) end--;
    }
  }
  // A counter written "total_requests" becomes "requests_total".
  const dropTotalWords = isCounter && !analysis.hasTotal;

  const kept: string[] = [];
  let unit: BaseUnit | undefined;
  let wordAfterUnit = false;
  let hasPer = false;
  for (let i = 0; i < end; i++) {
    const word = words[i] as string;
    if (TYPE_WORDS.has(word) || (dropTotalWords && word === 'total')) continue;
    const found = unitWord(word, i > 0 || analysis.leadingSeparator);
    if (found !== undefined) {
      // An ambiguous abbreviation, or two different units: no certain fix.
      if (found.base === undefined || (unit !== undefined && unit !== found.base)) return undefined;
      unit = found.base;
      continue;
    }
    if (unit !== undefined) wordAfterUnit = true;
    if (word === 'per') hasPer = true;
    kept.push(word);
  }
  if (unit !== undefined) {
    // "bytes_per_request" or "foo_seconds_info": moving the unit to the end
    // would change the meaning, so leave it to a human.
    if (wordAfterUnit && (hasPer || kept[kept.length - 1] === 'info')) return undefined;
    kept.push(unit);
  }
  if (kept.length === 0) return undefined;
  if (isCounter) kept.push('total');
  return kept.join('_');
}

/** The fix for an analysed metric name, if one passes every rule. */
export function suggestionFor(analysis: MetricNameAnalysis, type: MetricType): string | undefined {
  if (analysis.issues.length === 0) return undefined;
  const candidate = repairMetricName(analysis, type);
  if (candidate === undefined || analyzeMetricName(candidate, type).issues.length > 0) return undefined;
  return candidate;
}

/**
 * The one fixed name that repairs every problem of `name` as a metric of
 * `type` at once, e.g. counter `rideCount` -> `ride_count_total`, histogram
 * `request_duration_milliseconds` -> `request_duration_seconds`. Undefined
 * when the name is already valid or no certain fix exists (empty name,
 * leading digit, ambiguous unit abbreviation, two units, ...).
 */
export function suggestMetricName(name: string, type: MetricType): string | undefined {
  return suggestionFor(analyzeMetricName(name, type), type);
}

/**
 * The fixed label name, e.g. `userId` -> `user_id`, `__tenant` -> `tenant`.
 * Undefined when the name is already valid or no certain fix exists
 * (empty, leading digit, the reserved `le` and `quantile`).
 */
export function suggestLabelName(name: string): string | undefined {
  if (analyzeLabelName(name, undefined).length === 0) return undefined;
  return labelSuggestionFor(name);
}

/** The fix for a label name known to be invalid, if one passes every rule. */
export function labelSuggestionFor(name: string): string | undefined {
  const words = splitWords(name);
  if (words.length === 0) return undefined;
  const candidate = words.join('_');
  return analyzeLabelName(candidate, undefined).length === 0 ? candidate : undefined;
}

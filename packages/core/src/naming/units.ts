/**
 * Unit vocabulary for metric names.
 *
 * The tables start from promlint's (client_golang prometheus/testutil/promlint,
 * https://github.com/prometheus/client_golang/blob/main/prometheus/testutil/promlint/validations/units.go)
 * so that every unit promlint rejects is rejected here too, and add what the
 * Prometheus naming guide asks for but promlint does not check
 * (https://prometheus.io/docs/practices/naming/#base-units): ratios instead of
 * percentages, and more abbreviations.
 */

/** A unit the Prometheus naming guide accepts as a metric name suffix. */
export type BaseUnit =
  | 'amperes'
  | 'bytes'
  | 'celsius'
  | 'grams'
  | 'joules'
  | 'kelvin'
  | 'meters'
  | 'metres'
  | 'ratio'
  | 'seconds'
  | 'volts';

/** Every {@link BaseUnit}, in alphabetical order. */
export const BASE_UNITS: readonly BaseUnit[] = Object.freeze([
  'amperes',
  'bytes',
  'celsius',
  'grams',
  'joules',
  'kelvin',
  'meters',
  'metres',
  'ratio',
  'seconds',
  'volts',
] as const);

const BASE_UNIT_SET: ReadonlySet<string> = new Set<string>(BASE_UNITS);

/** Whether `word` is exactly a base unit word. */
export function isBaseUnit(word: string): word is BaseUnit {
  return BASE_UNIT_SET.has(word);
}

/** A word of a metric name that names a unit, and the base unit it maps to. */
export interface UnitWord {
  /** `base`: already a base unit; `non_base`: e.g. "milliseconds"; `abbreviation`: e.g. "ms". */
  readonly kind: 'base' | 'non_base' | 'abbreviation';
  /** The base unit to use, or undefined when an abbreviation is ambiguous ("m": meters or minutes?). */
  readonly base: BaseUnit | undefined;
  /** True when only the spelling changes (no value conversion), e.g. "secs" -> "seconds". */
  readonly sameScale: boolean;
  /** The base units the word may stand for; one unless ambiguous. */
  readonly candidates: readonly BaseUnit[];
}

function nonBase(base: BaseUnit, sameScale = false): UnitWord {
  return { kind: 'non_base', base, sameScale, candidates: [base] };
}

function abbreviation(base: BaseUnit, sameScale = false): UnitWord {
  return { kind: 'abbreviation', base, sameScale, candidates: [base] };
}

function ambiguous(...candidates: BaseUnit[]): UnitWord {
  return { kind: 'abbreviation', base: undefined, sameScale: false, candidates };
}

const BASE_UNIT_WORDS: ReadonlyMap<string, UnitWord> = new Map(
  BASE_UNITS.map((base): [string, UnitWord] => [base, { kind: 'base', base, sameScale: true, candidates: [base] }]),
);

// promlint's `units` map: every key, with or without one of the prefixes below,
// is reported as "use base unit" unless it equals its base.
const PROMLINT_UNITS: ReadonlyArray<readonly [string, BaseUnit]> = [
  ['amperes', 'amperes'],
  ['bytes', 'bytes'],
  ['celsius', 'celsius'],
  ['grams', 'grams'],
  ['joules', 'joules'],
  ['kelvin', 'kelvin'],
  ['meters', 'meters'],
  ['metres', 'metres'],
  ['seconds', 'seconds'],
  ['volts', 'volts'],
  ['minutes', 'seconds'],
  ['hours', 'seconds'],
  ['days', 'seconds'],
  ['weeks', 'seconds'],
  ['kelvins', 'kelvin'],
  ['fahrenheit', 'celsius'],
  ['rankine', 'celsius'],
  ['inches', 'meters'],
  ['yards', 'meters'],
  ['miles', 'meters'],
  ['bits', 'bytes'],
  ['calories', 'joules'],
  ['pounds', 'grams'],
  ['ounces', 'grams'],
];

// promlint's `unitPrefixes` (including its "mibi" spelling), plus the correct
// "mebi" and the exa/exbi pair it lacks.
const UNIT_PREFIXES: readonly string[] = [
  'pico',
  'nano',
  'micro',
  'milli',
  'centi',
  'deci',
  'deca',
  'hecto',
  'kilo',
  'kibi',
  'mega',
  'mibi',
  'mebi',
  'giga',
  'gibi',
  'tera',
  'tebi',
  'peta',
  'pebi',
  'exa',
  'exbi',
];

// Singular forms are only treated as units behind a prefix: a bare "second"
// is as often an ordinal ("second_attempt") as a unit.
const SINGULAR_BASE_UNITS: ReadonlyArray<readonly [string, BaseUnit]> = [
  ['ampere', 'amperes'],
  ['byte', 'bytes'],
  ['gram', 'grams'],
  ['joule', 'joules'],
  ['meter', 'meters'],
  ['metre', 'metres'],
  ['second', 'seconds'],
  ['volt', 'volts'],
];

const NON_BASE_UNITS: ReadonlyMap<string, UnitWord> = buildNonBaseUnits();

function buildNonBaseUnits(): Map<string, UnitWord> {
  const table = new Map<string, UnitWord>();
  for (const [word, base] of PROMLINT_UNITS) {
    if (word !== base) table.set(word, nonBase(base, word === 'kelvins'));
    for (const prefix of UNIT_PREFIXES) table.set(prefix + word, nonBase(base));
  }
  for (const [word, base] of SINGULAR_BASE_UNITS) {
    for (const prefix of UNIT_PREFIXES) table.set(prefix + word, nonBase(base));
  }
  // https://prometheus.io/docs/practices/naming/#base-units: "ratio" rather
  // than percent.
  table.set('percent', nonBase('ratio'));
  table.set('percentage', nonBase('ratio'));
  return table;
}

// promlint's `unitAbbreviations` (s ms us ns sec b kb mb gb tb pb m h d), plus
// common spellings it misses. "min" is left out on purpose: it is far more
// often "minimum" than "minutes".
const UNIT_ABBREVIATIONS: ReadonlyMap<string, UnitWord> = new Map<string, UnitWord>([
  ['s', abbreviation('seconds', true)],
  ['sec', abbreviation('seconds', true)],
  ['secs', abbreviation('seconds', true)],
  ['ms', abbreviation('seconds')],
  ['msec', abbreviation('seconds')],
  ['msecs', abbreviation('seconds')],
  ['millis', abbreviation('seconds')],
  ['us', abbreviation('seconds')],
  ['usec', abbreviation('seconds')],
  ['usecs', abbreviation('seconds')],
  ['micros', abbreviation('seconds')],
  ['ns', abbreviation('seconds')],
  ['nsec', abbreviation('seconds')],
  ['nsecs', abbreviation('seconds')],
  ['nanos', abbreviation('seconds')],
  ['mins', abbreviation('seconds')],
  ['h', abbreviation('seconds')],
  ['hr', abbreviation('seconds')],
  ['hrs', abbreviation('seconds')],
  ['kb', abbreviation('bytes')],
  ['mb', abbreviation('bytes')],
  ['gb', abbreviation('bytes')],
  ['tb', abbreviation('bytes')],
  ['pb', abbreviation('bytes')],
  ['kib', abbreviation('bytes')],
  ['mib', abbreviation('bytes')],
  ['gib', abbreviation('bytes')],
  ['tib', abbreviation('bytes')],
  ['pib', abbreviation('bytes')],
  ['pct', abbreviation('ratio')],
  // No certain reading: "m" is minutes or meters, "b" bits or bytes, "d" days
  // or anything else, so these get no automatic fix.
  ['m', ambiguous('meters', 'seconds')],
  ['b', ambiguous('bytes')],
  ['d', ambiguous('seconds')],
]);

/**
 * What unit, if any, a lower-case word of a metric name names. Abbreviations
 * only count when `abbreviationsCount`: promlint looks for them after an
 * underscore only (`_ms_`, `_ms` at the end), so a leading word such as the
 * namespace in `ms_queue_depth` is not read as a unit.
 */
export function unitWord(word: string, abbreviationsCount: boolean): UnitWord | undefined {
  const found = BASE_UNIT_WORDS.get(word) ?? NON_BASE_UNITS.get(word);
  if (found !== undefined || !abbreviationsCount) return found;
  return UNIT_ABBREVIATIONS.get(word);
}

const TOTAL_SUFFIX = '_total';

/**
 * The base unit suffix of a metric name, looking past a trailing `_total`:
 * `seconds` for `http_request_duration_seconds` and for `rides_seconds_total`.
 * Only the suffix is read; validate the name with `checkMetricName` first.
 */
export function baseUnitOf(name: string): BaseUnit | undefined {
  const end = name.endsWith(TOTAL_SUFFIX) ? name.length - TOTAL_SUFFIX.length : name.length;
  const start = name.lastIndexOf('_', end - 1) + 1;
  if (start >= end) return undefined;
  const word = name.slice(start, end);
  return isBaseUnit(word) ? word : undefined;
}

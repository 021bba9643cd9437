/**
 * Stable codes for naming problems. Tools match on these, so values never
 * change once released; messages may be reworded.
 */
export const NamingProblemCode = {
  /** The name is the empty string. */
  Empty: 'empty',
  /** Characters outside the Prometheus grammar (`[a-zA-Z_:][a-zA-Z0-9_:]*`, labels without `:`). */
  InvalidCharacters: 'invalid_characters',
  /** A `:` in a metric name: colons are reserved for recording rules. */
  Colon: 'colon',
  /** A leading `__`: reserved for Prometheus internals. */
  ReservedPrefix: 'reserved_prefix',
  /** Not lower-case words joined by single underscores. */
  NotSnakeCase: 'not_snake_case',
  /** A counter whose name does not end in `_total`. */
  CounterMissingTotal: 'counter_missing_total',
  /** A gauge, histogram or summary whose name ends in `_total`. */
  TotalOnNonCounter: 'total_on_non_counter',
  /** A unit that is not a base unit, e.g. `milliseconds`, `kilobytes`, `percent`. */
  NonBaseUnit: 'non_base_unit',
  /** An abbreviated unit, e.g. `_ms`, `_kb`, `_s`. */
  AbbreviatedUnit: 'abbreviated_unit',
  /** A unit that is not the last word (before `_total` on counters), or more than one unit. */
  UnitNotSuffix: 'unit_not_suffix',
  /** The metric type (`counter`, `gauge`, `histogram`, `summary`) as a word of the name. */
  TypeInName: 'type_in_name',
  /** A suffix the client library generates: `_bucket`, `_count`, `_sum`, `_created`. */
  ReservedSuffix: 'reserved_suffix',
  /** A label name the client library generates: `le`, `quantile`. */
  ReservedLabel: 'reserved_label',
} as const;

/** One of the {@link NamingProblemCode} values. */
export type NamingProblemCode = (typeof NamingProblemCode)[keyof typeof NamingProblemCode];

/** A broken naming rule, with a message that says how to fix it. */
export interface NamingProblem {
  readonly code: NamingProblemCode;
  /** Names the rule and the fix; ends with `: try "<suggestion>"` when there is one. */
  readonly message: string;
  /** The fixed name that repairs every problem found in the name at once, when one exists. */
  readonly suggestion?: string;
}

/** A problem before its message gets the shared suggestion. */
export interface NamingIssue {
  readonly code: NamingProblemCode;
  /** The rule, e.g. `"rideCount" must be snake_case`. */
  readonly text: string;
  /** Said instead of a suggestion when there is none. */
  readonly hint?: string;
}

/** Quotes a name for a message, escaping what would make the message ambiguous. */
export function quote(name: string): string {
  return JSON.stringify(name);
}

/** Turns issues into problems, all pointing at the same suggestion. */
export function toProblems(issues: readonly NamingIssue[], suggestion: string | undefined): NamingProblem[] {
  return issues.map((issue): NamingProblem => {
    if (suggestion !== undefined) {
      return { code: issue.code, message: `${issue.text}: try ${quote(suggestion)}`, suggestion };
    }
    return { code: issue.code, message: issue.hint === undefined ? issue.text : `${issue.text}: ${issue.hint}` };
  });
}

/** Appends an issue unless an identical one is already there (the same word can break a rule twice). */
export function pushIssue(issues: NamingIssue[], issue: NamingIssue): void {
  for (const existing of issues) {
    if (existing.code === issue.code && existing.text === issue.text) return;
  }
  issues.push(issue);
}

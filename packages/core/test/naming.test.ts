import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BASE_UNITS,
  baseUnitOf,
  checkLabelName,
  checkMetricName,
  METRIC_TYPES,
  NamingProblemCode,
  suggestLabelName,
  suggestMetricName,
  type MetricType,
  type NamingProblem,
} from '../src/naming/index.js';

const CODES: ReadonlySet<string> = new Set(Object.values(NamingProblemCode));

function codes(problems: readonly NamingProblem[]): string[] {
  return problems.map((p) => p.code);
}

describe('NamingProblemCode', () => {
  it('has stable string codes', () => {
    expect(NamingProblemCode).toEqual({
      Empty: 'empty',
      InvalidCharacters: 'invalid_characters',
      Colon: 'colon',
      ReservedPrefix: 'reserved_prefix',
      NotSnakeCase: 'not_snake_case',
      CounterMissingTotal: 'counter_missing_total',
      TotalOnNonCounter: 'total_on_non_counter',
      NonBaseUnit: 'non_base_unit',
      AbbreviatedUnit: 'abbreviated_unit',
      UnitNotSuffix: 'unit_not_suffix',
      TypeInName: 'type_in_name',
      ReservedSuffix: 'reserved_suffix',
      ReservedLabel: 'reserved_label',
    });
  });
});

describe('checkMetricName: valid names', () => {
  const valid: ReadonlyArray<readonly [string, MetricType]> = [
    ['http_requests_total', 'counter'],
    ['rides_seconds_total', 'counter'],
    ['process_cpu_seconds_total', 'counter'],
    ['request_duration_seconds_total', 'counter'],
    ['jobs_count_total', 'counter'],
    ['http_5xx_responses_total', 'counter'],
    ['queue_depth', 'gauge'],
    ['node_memory_bytes', 'gauge'],
    ['build_info', 'gauge'],
    ['cpu_usage_ratio', 'gauge'],
    ['room_temperature_celsius', 'gauge'],
    ['lamp_color_kelvin', 'gauge'],
    ['cable_length_metres', 'gauge'],
    ['last_run_timestamp_seconds', 'gauge'],
    ['thermometers', 'gauge'],
    ['ms_queue_depth', 'gauge'],
    ['up', 'gauge'],
    ['x', 'gauge'],
    ['http_request_duration_seconds', 'histogram'],
    ['payload_bytes', 'histogram'],
    ['rpc_latency_seconds', 'summary'],
  ];
  it.each(valid)('%s (%s)', (name, type) => {
    expect(checkMetricName(name, type)).toEqual([]);
    expect(suggestMetricName(name, type)).toBeUndefined();
  });
});

describe('checkMetricName: grammar', () => {
  it('rejects the empty name without a fix', () => {
    expect(checkMetricName('', 'gauge')).toEqual([{ code: 'empty', message: 'metric name must not be empty' }]);
  });

  it('rejects characters outside [a-zA-Z0-9_:], fixing separators', () => {
    expect(checkMetricName('http.server.duration_seconds', 'histogram')).toEqual([
      {
        code: 'invalid_characters',
        message:
          '"http.server.duration_seconds" must contain only letters, digits and underscores, starting with a letter: try "http_server_duration_seconds"',
        suggestion: 'http_server_duration_seconds',
      },
    ]);
    expect(checkMetricName('foo bar', 'gauge')).toEqual([
      {
        code: 'invalid_characters',
        message: '"foo bar" must contain only letters, digits and underscores, starting with a letter: try "foo_bar"',
        suggestion: 'foo_bar',
      },
    ]);
  });

  it('gives no fix for a leading digit or non-ASCII letters', () => {
    expect(checkMetricName('1foo', 'gauge')).toEqual([
      { code: 'invalid_characters', message: '"1foo" must contain only letters, digits and underscores, starting with a letter' },
    ]);
    expect(checkMetricName('größe_bytes', 'gauge')).toEqual([
      {
        code: 'invalid_characters',
        message: '"größe_bytes" must contain only letters, digits and underscores, starting with a letter',
      },
    ]);
  });

  it('rejects colons, which are reserved for recording rules', () => {
    expect(checkMetricName('foo:bar', 'gauge')).toEqual([
      {
        code: 'colon',
        message: '"foo:bar" must not contain ":" (reserved for recording rules): try "foo_bar"',
        suggestion: 'foo_bar',
      },
    ]);
  });

  it('rejects a leading __', () => {
    expect(checkMetricName('__foo', 'gauge')).toEqual([
      {
        code: 'reserved_prefix',
        message: '"__foo" must not start with "__" (reserved for Prometheus internals): try "foo"',
        suggestion: 'foo',
      },
    ]);
    expect(codes(checkMetricName('___foo', 'gauge'))).toEqual(['reserved_prefix', 'not_snake_case']);
  });
});

describe('checkMetricName: snake_case', () => {
  it('pins the message and fixes camelCase and the missing _total at once', () => {
    expect(checkMetricName('rideCount', 'counter')).toEqual([
      {
        code: 'not_snake_case',
        message: '"rideCount" must be snake_case: try "ride_count_total"',
        suggestion: 'ride_count_total',
      },
      {
        code: 'counter_missing_total',
        message: '"rideCount" is a counter and must end in "_total": try "ride_count_total"',
        suggestion: 'ride_count_total',
      },
    ]);
  });

  it.each([
    ['Foo', 'foo'],
    ['HTTPRequests', 'http_requests'],
    ['http2Requests', 'http2_requests'],
    ['RIDE_DEPTH', 'ride_depth'],
    ['foo__bar', 'foo_bar'],
    ['foo_', 'foo'],
    ['_foo', 'foo'],
  ])('%s -> %s', (name, fixed) => {
    expect(checkMetricName(name, 'gauge')).toEqual([
      { code: 'not_snake_case', message: `"${name}" must be snake_case: try "${fixed}"`, suggestion: fixed },
    ]);
  });

  it('says what snake_case is when it cannot fix the name', () => {
    // The snake_case form, "ride_count", ends in the reserved "_count".
    expect(checkMetricName('rideCount', 'gauge')).toEqual([
      {
        code: 'not_snake_case',
        message:
          '"rideCount" must be snake_case: lower-case letters and digits, words joined by single underscores, starting with a letter',
      },
    ]);
  });
});

describe('checkMetricName: _total', () => {
  it('requires _total on counters', () => {
    expect(checkMetricName('http_requests', 'counter')).toEqual([
      {
        code: 'counter_missing_total',
        message: '"http_requests" is a counter and must end in "_total": try "http_requests_total"',
        suggestion: 'http_requests_total',
      },
    ]);
  });

  it('keeps a counter unit before _total', () => {
    expect(suggestMetricName('request_duration_seconds', 'counter')).toBe('request_duration_seconds_total');
  });

  it('moves a leading "total" to the end', () => {
    expect(suggestMetricName('total_requests', 'counter')).toBe('requests_total');
  });

  it.each(['gauge', 'histogram', 'summary'] as const)('forbids _total on a %s', (type) => {
    expect(checkMetricName('queue_depth_total', type)).toEqual([
      {
        code: 'total_on_non_counter',
        message: `"queue_depth_total" is a ${type} and must not end in "_total" (only counters do): try "queue_depth"`,
        suggestion: 'queue_depth',
      },
    ]);
  });

  it('gives no fix when nothing but "total" would be left', () => {
    expect(checkMetricName('total', 'counter')).toEqual([
      { code: 'counter_missing_total', message: '"total" is a counter and must end in "_total"' },
    ]);
  });
});

describe('checkMetricName: units', () => {
  it('asks for base units and a conversion', () => {
    expect(checkMetricName('request_duration_milliseconds', 'histogram')).toEqual([
      {
        code: 'non_base_unit',
        message:
          '"request_duration_milliseconds" must use the base unit "seconds" instead of "milliseconds" and convert values to seconds: try "request_duration_seconds"',
        suggestion: 'request_duration_seconds',
      },
    ]);
    expect(checkMetricName('cpu_percent', 'gauge')).toEqual([
      {
        code: 'non_base_unit',
        message:
          '"cpu_percent" must use the base unit "ratio" instead of "percent" and convert values to a ratio (0 to 1): try "cpu_ratio"',
        suggestion: 'cpu_ratio',
      },
    ]);
  });

  it('needs no conversion for a mere respelling', () => {
    expect(checkMetricName('lamp_kelvins', 'gauge')).toEqual([
      {
        code: 'non_base_unit',
        message: '"lamp_kelvins" must use the base unit "kelvin" instead of "kelvins": try "lamp_kelvin"',
        suggestion: 'lamp_kelvin',
      },
    ]);
  });

  it.each([
    ['uptime_minutes', 'gauge', 'uptime_seconds'],
    ['uptime_hours', 'gauge', 'uptime_seconds'],
    ['retention_days', 'gauge', 'retention_seconds'],
    ['room_fahrenheit', 'gauge', 'room_celsius'],
    ['cable_kilometres', 'gauge', 'cable_metres'],
    ['link_megabits', 'gauge', 'link_bytes'],
    ['disk_mibibytes', 'gauge', 'disk_bytes'],
    ['disk_mebibytes', 'gauge', 'disk_bytes'],
    ['food_kilocalories_total', 'counter', 'food_joules_total'],
    ['parcel_pounds', 'histogram', 'parcel_grams'],
    ['gc_pause_microseconds', 'summary', 'gc_pause_seconds'],
    ['gc_pause_millisecond', 'summary', 'gc_pause_seconds'],
  ] as const)('%s (%s) -> %s', (name, type, fixed) => {
    const problems = checkMetricName(name, type);
    expect(codes(problems)).toEqual(['non_base_unit']);
    expect(problems[0]?.suggestion).toBe(fixed);
  });

  it('rejects abbreviations', () => {
    expect(checkMetricName('payload_kb', 'histogram')).toEqual([
      {
        code: 'abbreviated_unit',
        message:
          '"payload_kb" must use the base unit "bytes" instead of the abbreviation "kb" and convert values to bytes: try "payload_bytes"',
        suggestion: 'payload_bytes',
      },
    ]);
    expect(checkMetricName('latency_s', 'histogram')).toEqual([
      {
        code: 'abbreviated_unit',
        message: '"latency_s" must use the base unit "seconds" instead of the abbreviation "s": try "latency_seconds"',
        suggestion: 'latency_seconds',
      },
    ]);
  });

  it.each([
    ['request_ms', 'request_seconds'],
    ['request_us', 'request_seconds'],
    ['request_ns', 'request_seconds'],
    ['request_sec', 'request_seconds'],
    ['request_secs', 'request_seconds'],
    ['request_msec', 'request_seconds'],
    ['request_millis', 'request_seconds'],
    ['uptime_h', 'uptime_seconds'],
    ['uptime_hrs', 'uptime_seconds'],
    ['payload_mb', 'payload_bytes'],
    ['payload_gb', 'payload_bytes'],
    ['payload_gib', 'payload_bytes'],
    ['cpu_pct', 'cpu_ratio'],
    ['request_ms_duration', 'request_duration_seconds'],
    ['requestDurationMs', 'request_duration_seconds'],
  ])('%s -> %s', (name, fixed) => {
    expect(checkMetricName(name, 'histogram').map((p) => p.code)).toContain('abbreviated_unit');
    expect(suggestMetricName(name, 'histogram')).toBe(fixed);
  });

  it('gives no fix for ambiguous abbreviations', () => {
    expect(checkMetricName('distance_m', 'gauge')).toEqual([
      {
        code: 'abbreviated_unit',
        message:
          '"distance_m" must not use the abbreviation "m" for a unit: spell out the base unit it stands for ("meters" or "seconds") and convert values to it',
      },
    ]);
    expect(suggestMetricName('size_b', 'gauge')).toBeUndefined();
    expect(suggestMetricName('age_d', 'gauge')).toBeUndefined();
  });

  it('reads a leading word as a namespace, not an abbreviation (as promlint does)', () => {
    expect(checkMetricName('ms_queue_depth', 'gauge')).toEqual([]);
    expect(codes(checkMetricName('_ms_queue_depth', 'gauge'))).toEqual(['not_snake_case', 'abbreviated_unit', 'unit_not_suffix']);
  });

  it('wants the unit last', () => {
    expect(checkMetricName('http_seconds_request_duration', 'histogram')).toEqual([
      {
        code: 'unit_not_suffix',
        message:
          '"http_seconds_request_duration" must have its unit "seconds" as the last word: try "http_request_duration_seconds"',
        suggestion: 'http_request_duration_seconds',
      },
    ]);
  });

  it('wants a counter unit right before _total', () => {
    expect(checkMetricName('seconds_rides_total', 'counter')).toEqual([
      {
        code: 'unit_not_suffix',
        message:
          '"seconds_rides_total" must have its unit "seconds" as the last word before "_total": try "rides_seconds_total"',
        suggestion: 'rides_seconds_total',
      },
    ]);
  });

  it('wants one unit', () => {
    expect(checkMetricName('x_bytes_seconds', 'gauge')).toEqual([
      {
        code: 'unit_not_suffix',
        message: '"x_bytes_seconds" must have one unit, not "bytes" and "seconds": keep one base unit, as the last word',
      },
    ]);
    expect(checkMetricName('latency_seconds_ms', 'histogram')).toEqual([
      {
        code: 'abbreviated_unit',
        message:
          '"latency_seconds_ms" must use the base unit "seconds" instead of the abbreviation "ms" and convert values to seconds: try "latency_seconds"',
        suggestion: 'latency_seconds',
      },
      {
        code: 'unit_not_suffix',
        message: '"latency_seconds_ms" must have its unit "seconds" as the last word: try "latency_seconds"',
        suggestion: 'latency_seconds',
      },
    ]);
  });

  it('leaves rates and info metrics with a misplaced unit to a human', () => {
    expect(checkMetricName('read_bytes_per_request', 'gauge')).toEqual([
      { code: 'unit_not_suffix', message: '"read_bytes_per_request" must have its unit "bytes" as the last word' },
    ]);
    expect(suggestMetricName('build_seconds_info', 'gauge')).toBeUndefined();
  });
});

describe('checkMetricName: type in name', () => {
  it('rejects the type as a word', () => {
    expect(checkMetricName('jobs_counter_total', 'counter')).toEqual([
      {
        code: 'type_in_name',
        message: '"jobs_counter_total" must not contain the metric type "counter": try "jobs_total"',
        suggestion: 'jobs_total',
      },
    ]);
    expect(codes(checkMetricName('x_gauge_histogram', 'gauge'))).toEqual(['type_in_name', 'type_in_name']);
    expect(suggestMetricName('summary_latency_seconds', 'summary')).toBe('latency_seconds');
  });

  it('only matches whole words', () => {
    expect(checkMetricName('encounters_total', 'counter')).toEqual([]);
    expect(checkMetricName('gauges_in_stock', 'gauge')).toEqual([]);
  });

  it('gives no fix when nothing else would be left', () => {
    expect(checkMetricName('gauge', 'gauge')).toEqual([
      {
        code: 'type_in_name',
        message: '"gauge" must not contain the metric type "gauge": the type is already in the metadata; remove the word',
      },
    ]);
  });
});

describe('checkMetricName: reserved suffixes', () => {
  it.each(METRIC_TYPES)('rejects _bucket on a %s', (type) => {
    const fixed = type === 'counter' ? 'foo_total' : 'foo';
    expect(checkMetricName('foo_bucket', type)[0]).toEqual({
      code: 'reserved_suffix',
      message: `"foo_bucket" must not end in "_bucket" (histograms add it): try "${fixed}"`,
      suggestion: fixed,
    });
  });

  it('rejects _count, _sum and _created', () => {
    expect(checkMetricName('rpc_latency_seconds_count', 'summary')).toEqual([
      {
        code: 'reserved_suffix',
        message:
          '"rpc_latency_seconds_count" must not end in "_count" (histograms and summaries add it): try "rpc_latency_seconds"',
        suggestion: 'rpc_latency_seconds',
      },
    ]);
    expect(checkMetricName('request_duration_seconds_sum', 'histogram')).toEqual([
      {
        code: 'reserved_suffix',
        message:
          '"request_duration_seconds_sum" must not end in "_sum" (histograms and summaries add it): try "request_duration_seconds"',
        suggestion: 'request_duration_seconds',
      },
    ]);
    expect(checkMetricName('jobs_created', 'gauge')).toEqual([
      {
        code: 'reserved_suffix',
        message: '"jobs_created" must not end in "_created" (OpenMetrics adds it to counters, histograms and summaries): try "jobs"',
        suggestion: 'jobs',
      },
    ]);
  });

  it('turns a counter _count into _total', () => {
    expect(codes(checkMetricName('jobs_count', 'counter'))).toEqual(['reserved_suffix', 'counter_missing_total']);
    expect(suggestMetricName('jobs_count', 'counter')).toBe('jobs_total');
  });

  it('strips every generated suffix on non-counters', () => {
    expect(suggestMetricName('queue_depth_count_total', 'gauge')).toBe('queue_depth');
  });
});

describe('suggestMetricName', () => {
  it.each([
    ['rideCount', 'counter', 'ride_count_total'],
    ['request_duration_milliseconds', 'histogram', 'request_duration_seconds'],
    ['payload_kb', 'gauge', 'payload_bytes'],
    ['http_requests', 'counter', 'http_requests_total'],
    ['queue_depth_total', 'gauge', 'queue_depth'],
    ['jobs_counter_total', 'counter', 'jobs_total'],
    ['http_seconds_request_duration', 'histogram', 'http_request_duration_seconds'],
    ['request_duration_seconds', 'counter', 'request_duration_seconds_total'],
    ['foo:bar', 'gauge', 'foo_bar'],
    ['__foo', 'gauge', 'foo'],
    ['__ride_minutes', 'counter', 'ride_seconds_total'],
    ['HTTP-Request.DurationMs', 'histogram', 'http_request_duration_seconds'],
  ] as const)('%s (%s) -> %s', (name, type, fixed) => {
    expect(suggestMetricName(name, type)).toBe(fixed);
    const problems = checkMetricName(name, type);
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) {
      expect(problem.suggestion).toBe(fixed);
      expect(problem.message.endsWith(`: try "${fixed}"`)).toBe(true);
    }
  });

  it.each([
    ['', 'gauge'],
    ['1foo', 'gauge'],
    ['9_lives_total', 'counter'],
    ['__', 'gauge'],
    ['x_bytes_seconds', 'gauge'],
  ] as const)('has no fix for %j (%s)', (name, type) => {
    expect(suggestMetricName(name, type)).toBeUndefined();
    for (const problem of checkMetricName(name, type)) {
      expect(problem).not.toHaveProperty('suggestion');
      expect(problem.message).not.toContain(': try ');
    }
  });
});

describe('checkLabelName', () => {
  it.each(METRIC_TYPES)('accepts snake_case labels on a %s', (type) => {
    for (const label of ['method', 'status_code', 'http2_stream', 'a']) expect(checkLabelName(label, type)).toEqual([]);
  });

  it('rejects the empty name', () => {
    expect(checkLabelName('', 'gauge')).toEqual([{ code: 'empty', message: 'label name must not be empty' }]);
  });

  it('rejects characters outside [a-zA-Z0-9_], colons included', () => {
    expect(checkLabelName('foo:bar', 'counter')).toEqual([
      {
        code: 'invalid_characters',
        message: 'label "foo:bar" must contain only letters, digits and underscores, starting with a letter: try "foo_bar"',
        suggestion: 'foo_bar',
      },
    ]);
    expect(checkLabelName('1st', 'counter')).toEqual([
      {
        code: 'invalid_characters',
        message: 'label "1st" must contain only letters, digits and underscores, starting with a letter',
      },
    ]);
  });

  it('wants snake_case', () => {
    expect(checkLabelName('userId', 'counter')).toEqual([
      { code: 'not_snake_case', message: 'label "userId" must be snake_case: try "user_id"', suggestion: 'user_id' },
    ]);
    expect(checkLabelName('Route__', 'gauge')).toEqual([
      { code: 'not_snake_case', message: 'label "Route__" must be snake_case: try "route"', suggestion: 'route' },
    ]);
  });

  it('rejects a leading __', () => {
    expect(checkLabelName('__tenant', 'gauge')).toEqual([
      {
        code: 'reserved_prefix',
        message: 'label "__tenant" must not start with "__" (reserved for Prometheus internals): try "tenant"',
        suggestion: 'tenant',
      },
    ]);
  });

  it('reserves le, with a message for the histogram that generates it', () => {
    expect(checkLabelName('le', 'histogram')).toEqual([
      {
        code: 'reserved_label',
        message: 'label "le" is reserved for the bucket bounds the histogram adds: choose another name',
      },
    ]);
    for (const type of ['counter', 'gauge', 'summary'] as const) {
      expect(checkLabelName('le', type)).toEqual([
        { code: 'reserved_label', message: 'label "le" is reserved for histogram bucket bounds: choose another name' },
      ]);
    }
  });

  it('reserves quantile, with a message for the summary that generates it', () => {
    expect(checkLabelName('quantile', 'summary')).toEqual([
      {
        code: 'reserved_label',
        message: 'label "quantile" is reserved for the quantiles the summary adds: choose another name',
      },
    ]);
    for (const type of ['counter', 'gauge', 'histogram'] as const) {
      expect(checkLabelName('quantile', type)).toEqual([
        { code: 'reserved_label', message: 'label "quantile" is reserved for summary quantiles: choose another name' },
      ]);
    }
  });

  it('does not fix towards a reserved label', () => {
    expect(codes(checkLabelName('LE', 'histogram'))).toEqual(['not_snake_case']);
    expect(suggestLabelName('LE')).toBeUndefined();
  });

  it('suggests label fixes', () => {
    expect(suggestLabelName('userId')).toBe('user_id');
    expect(suggestLabelName('__tenant')).toBe('tenant');
    expect(suggestLabelName('http.method')).toBe('http_method');
    expect(suggestLabelName('status_code')).toBeUndefined();
    expect(suggestLabelName('')).toBeUndefined();
    expect(suggestLabelName('quantile')).toBeUndefined();
  });
});

describe('baseUnitOf', () => {
  it.each([
    ['http_request_duration_seconds', 'seconds'],
    ['rides_seconds_total', 'seconds'],
    ['payload_bytes', 'bytes'],
    ['cpu_usage_ratio', 'ratio'],
    ['room_temperature_celsius', 'celsius'],
    ['cable_length_metres', 'metres'],
    ['seconds', 'seconds'],
  ] as const)('%s -> %s', (name, unit) => {
    expect(baseUnitOf(name)).toBe(unit);
  });

  it.each(['http_requests_total', 'queue_depth', 'request_ms', 'uptime_minutes', 'seconds_total_x', '_total', '', 'total'])(
    '%j has none',
    (name) => {
      expect(baseUnitOf(name)).toBeUndefined();
    },
  );

  it('knows every base unit', () => {
    for (const unit of BASE_UNITS) {
      expect(baseUnitOf(`x_${unit}`)).toBe(unit);
      expect(baseUnitOf(`x_${unit}_total`)).toBe(unit);
    }
  });
});

// --- properties ------------------------------------------------------------

const metricType = fc.constantFrom(...METRIC_TYPES);
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme-composite', maxLength: 40 }),
);
// Names built from the words the rules care about, so that most of them have
// problems with a fix.
const nameWord = fc.oneof(
  fc.constantFrom(
    'http', 'requests', 'queue', 'depth', 'rides', 'payload', 'seconds', 'bytes', 'ratio', 'milliseconds',
    'minutes', 'kilobytes', 'percent', 'ms', 'kb', 's', 'm', 'counter', 'gauge', 'histogram', 'summary', 'total',
    'bucket', 'count', 'sum', 'created', 'info', 'per', 'rideCount', 'HTTPRequests', 'Total', 'le', 'quantile',
  ),
  fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,6}$/),
);
const vocabularyName = fc
  .tuple(
    fc.constantFrom('', '', '', '_', '__', ':'),
    fc.array(fc.tuple(nameWord, fc.constantFrom('_', '_', '_', '_', '__', ':', '-', '.')), { minLength: 1, maxLength: 5 }),
  )
  .map(([head, parts]) => head + parts.map(([w, s], i) => (i === parts.length - 1 ? w : w + s)).join(''));
const candidateName = fc.oneof({ weight: 3, arbitrary: vocabularyName }, { weight: 1, arbitrary: anyString });

describe('properties', () => {
  it('checkMetricName and checkLabelName never throw and only use known codes', () => {
    fc.assert(
      fc.property(candidateName, metricType, (name, type) => {
        for (const problem of [...checkMetricName(name, type), ...checkLabelName(name, type)]) {
          expect(CODES.has(problem.code)).toBe(true);
          expect(problem.message.length).toBeGreaterThan(0);
        }
        baseUnitOf(name);
      }),
      { seed: 20_240_611, numRuns: 5000 },
    );
  });

  it('a metric name fix passes every rule, and every problem carries it', () => {
    let fixed = 0;
    fc.assert(
      fc.property(candidateName, metricType, (name, type) => {
        const problems = checkMetricName(name, type);
        const suggestion = suggestMetricName(name, type);
        if (problems.length === 0) {
          expect(suggestion).toBeUndefined();
          return;
        }
        for (const problem of problems) {
          expect(problem.suggestion).toBe(suggestion);
          if (suggestion !== undefined) expect(problem.message.endsWith(`: try ${JSON.stringify(suggestion)}`)).toBe(true);
        }
        if (suggestion === undefined) return;
        fixed++;
        expect(checkMetricName(suggestion, type)).toEqual([]);
        expect(suggestMetricName(suggestion, type)).toBeUndefined();
      }),
      { seed: 20_240_612, numRuns: 5000 },
    );
    expect(fixed).toBeGreaterThan(1000);
  });

  it('a label name fix passes every rule on every metric type', () => {
    fc.assert(
      fc.property(candidateName, (name) => {
        const suggestion = suggestLabelName(name);
        if (suggestion === undefined) return;
        for (const type of METRIC_TYPES) {
          expect(checkLabelName(suggestion, type)).toEqual([]);
          for (const problem of checkLabelName(name, type)) expect(problem.suggestion).toBe(suggestion);
        }
      }),
      { seed: 20_240_613, numRuns: 5000 },
    );
  });

  it('valid metric names are snake_case words over the Prometheus grammar', () => {
    fc.assert(
      fc.property(candidateName, metricType, (name, type) => {
        if (checkMetricName(name, type).length > 0) return;
        expect(name).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
        expect(name.endsWith('_total')).toBe(type === 'counter');
        const unit = baseUnitOf(name);
        if (unit !== undefined) expect(name.endsWith(type === 'counter' ? `_${unit}_total` : `_${unit}`) || name === unit).toBe(true);
      }),
      { seed: 20_240_614, numRuns: 5000 },
    );
  });
});

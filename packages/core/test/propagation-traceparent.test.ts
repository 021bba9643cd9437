import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TraceparentFields } from '../src/tracing/propagation/index.js';
import {
  TRACE_FLAG_RANDOM,
  TRACE_FLAG_SAMPLED,
  formatTraceparent,
  parseTraceparent,
} from '../src/tracing/propagation/index.js';

const TRACE_ID = '12345678901234567890123456789012';
const PARENT_ID = '1234567890123456';
const SPEC_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPEC_PARENT_ID = '00f067aa0ba902b7';

/** What every header we write must look like (Level 2 §3.2.2, version 00, only defined flags). */
const OUTPUT_GRAMMAR = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[0-3]$/;

/**
 * An independent reading of #versioning-of-traceparent with regular expressions,
 * used as an oracle for the character-scan parser.
 */
function oracle(value: string): TraceparentFields | undefined {
  const trimmed = value.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
  const match = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\s\S]*)?$/.exec(trimmed);
  if (match === null) return undefined;
  const [, version = '', traceId = '', parentId = '', flags = '', rest] = match;
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { version: parseInt(version, 16), traceId, parentId, traceFlags: parseInt(flags, 16) };
}

describe('parseTraceparent: valid headers', () => {
  const valid: ReadonlyArray<readonly [string, string, TraceparentFields]> = [
    [
      'spec example, sampled',
      `00-${SPEC_TRACE_ID}-${SPEC_PARENT_ID}-01`,
      { version: 0, traceId: SPEC_TRACE_ID, parentId: SPEC_PARENT_ID, traceFlags: 1 },
    ],
    [
      'spec example, not sampled',
      `00-${SPEC_TRACE_ID}-${SPEC_PARENT_ID}-00`,
      { version: 0, traceId: SPEC_TRACE_ID, parentId: SPEC_PARENT_ID, traceFlags: 0 },
    ],
    ['random flag only', `00-${TRACE_ID}-${PARENT_ID}-02`, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 2 }],
    ['sampled and random', `00-${TRACE_ID}-${PARENT_ID}-03`, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 3 }],
    ['unknown flags kept by the parser', `00-${TRACE_ID}-${PARENT_ID}-ff`, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 0xff }],
    ['flag 09 (sampled + reserved)', `00-${TRACE_ID}-${PARENT_ID}-09`, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 9 }],
    // test_traceparent_version_0xcc
    ['future version cc', `cc-${TRACE_ID}-${PARENT_ID}-01`, { version: 0xcc, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 }],
    [
      'future version cc with more fields',
      `cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`,
      { version: 0xcc, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 },
    ],
    ['future version with a bare trailing dash', `01-${TRACE_ID}-${PARENT_ID}-01-`, { version: 1, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 }],
    ['version fe', `fe-${TRACE_ID}-${PARENT_ID}-00`, { version: 0xfe, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 0 }],
    ['all-f ids', `00-${'f'.repeat(32)}-${'f'.repeat(16)}-01`, { version: 0, traceId: 'f'.repeat(32), parentId: 'f'.repeat(16), traceFlags: 1 }],
    ['ids with a single non-zero digit', `00-${'0'.repeat(31)}1-${'0'.repeat(15)}1-01`, { version: 0, traceId: `${'0'.repeat(31)}1`, parentId: `${'0'.repeat(15)}1`, traceFlags: 1 }],
    // test_traceparent_ows_handling
    ['leading space', ` 00-${TRACE_ID}-${PARENT_ID}-01`, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 }],
    ['leading tab', `\t00-${TRACE_ID}-${PARENT_ID}-01`, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 }],
    ['trailing space', `00-${TRACE_ID}-${PARENT_ID}-01 `, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 }],
    ['trailing tab', `00-${TRACE_ID}-${PARENT_ID}-01\t`, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 }],
    ['tabs and spaces around', `\t 00-${TRACE_ID}-${PARENT_ID}-01 \t`, { version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 }],
    ['OWS around a future version', `  cc-${TRACE_ID}-${PARENT_ID}-01-x  `, { version: 0xcc, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 }],
  ];

  it.each(valid)('%s', (_name, header, expected) => {
    expect(parseTraceparent(header)).toEqual(expected);
    expect(oracle(header)).toEqual(expected);
  });
});

describe('parseTraceparent: invalid headers', () => {
  const invalid: ReadonlyArray<readonly [string, string]> = [
    ['empty', ''],
    ['only whitespace', ' \t '],
    // test_traceparent_version_0x00
    ['version 00 with a trailing dot', `00-${TRACE_ID}-${PARENT_ID}-01.`],
    ['version 00 with more fields', `00-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`],
    ['version 00 with a bare trailing dash', `00-${TRACE_ID}-${PARENT_ID}-01-`],
    // test_traceparent_version_0xcc
    ['future version, more data not after a dash', `cc-${TRACE_ID}-${PARENT_ID}-01.what-the-future-will-be-like`],
    ['future version shorter than 55', `cc-${TRACE_ID}-${PARENT_ID}-1`],
    // test_traceparent_version_0xff
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    // test_traceparent_version_illegal_characters
    ['version .0', `.0-${TRACE_ID}-${PARENT_ID}-01`],
    ['version 0.', `0.-${TRACE_ID}-${PARENT_ID}-01`],
    // test_traceparent_version_too_long
    ['version 000', `000-${TRACE_ID}-${PARENT_ID}-01`],
    ['version 0000', `0000-${TRACE_ID}-${PARENT_ID}-01`],
    // test_traceparent_version_too_short
    ['version 0', `0-${TRACE_ID}-${PARENT_ID}-01`],
    // test_traceparent_trace_id_all_zero
    ['trace id all zeros', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    // test_traceparent_trace_id_illegal_characters
    ['trace id starting with a dot', `00-.2345678901234567890123456789012-${PARENT_ID}-01`],
    ['trace id ending with a dot', `00-1234567890123456789012345678901.-${PARENT_ID}-01`],
    // test_traceparent_trace_id_too_long / too_short
    ['trace id of 33', `00-123456789012345678901234567890123-${PARENT_ID}-01`],
    ['trace id of 31', `00-1234567890123456789012345678901-${PARENT_ID}-01`],
    // test_traceparent_parent_id_all_zero
    ['parent id all zeros', `00-${TRACE_ID}-0000000000000000-01`],
    // test_traceparent_parent_id_illegal_characters
    ['parent id starting with a dot', `00-${TRACE_ID}-.234567890123456-01`],
    ['parent id ending with a dot', `00-${TRACE_ID}-123456789012345.-01`],
    // test_traceparent_parent_id_too_long / too_short
    ['parent id of 17', `00-${TRACE_ID}-12345678901234567-01`],
    ['parent id of 15', `00-${TRACE_ID}-123456789012345-01`],
    // test_traceparent_trace_flags_illegal_characters
    ['flags .0', `00-${TRACE_ID}-${PARENT_ID}-.0`],
    ['flags 0.', `00-${TRACE_ID}-${PARENT_ID}-0.`],
    // test_traceparent_trace_flags_too_long / too_short
    ['flags 001', `00-${TRACE_ID}-${PARENT_ID}-001`],
    ['flags 1', `00-${TRACE_ID}-${PARENT_ID}-1`],
    // Upper-case hex is not HEXDIGLC.
    ['upper-case version', `0A-${TRACE_ID}-${PARENT_ID}-01`],
    ['upper-case trace id', `00-${SPEC_TRACE_ID.toUpperCase()}-${SPEC_PARENT_ID}-01`],
    ['upper-case parent id', `00-${SPEC_TRACE_ID}-00F067AA0BA902B7-01`],
    ['upper-case flags', `00-${TRACE_ID}-${PARENT_ID}-0A`],
    // Separators are exactly "-".
    ['underscore separator', `00_${TRACE_ID}-${PARENT_ID}-01`],
    ['space separator', `00-${TRACE_ID} ${PARENT_ID}-01`],
    ['missing separator', `00-${TRACE_ID}${PARENT_ID}-01`],
    // Whitespace other than SP and HTAB is not OWS.
    ['leading newline', `\n00-${TRACE_ID}-${PARENT_ID}-01`],
    ['trailing carriage return', `00-${TRACE_ID}-${PARENT_ID}-01\r`],
    ['no-break space', `\u00a000-${TRACE_ID}-${PARENT_ID}-01`],
    ['inner tab', `00-${TRACE_ID}-${PARENT_ID}-\t01`],
    ['non-hex letter', `00-${TRACE_ID.slice(0, 31)}g-${PARENT_ID}-01`],
    ['two headers joined by a comma', `00-${TRACE_ID}-${PARENT_ID}-01, 00-${TRACE_ID}-${PARENT_ID}-01`],
    ['two future-version headers joined', `cc-${TRACE_ID}-${PARENT_ID}-01,cc-${TRACE_ID}-${PARENT_ID}-01`],
  ];

  it.each(invalid)('%s', (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
    expect(oracle(header)).toBeUndefined();
  });
});

describe('parseTraceparent: robustness', () => {
  it('returns undefined for a non-string from a sloppy carrier', () => {
    expect(parseTraceparent(42 as unknown as string)).toBeUndefined();
    expect(parseTraceparent(undefined as unknown as string)).toBeUndefined();
  });

  it('reads only the first 55 characters of a long future-version header', () => {
    const header = `01-${TRACE_ID}-${PARENT_ID}-01-${'x'.repeat(100_000)}`;
    expect(parseTraceparent(header)?.traceId).toBe(TRACE_ID);
  });
});

describe('formatTraceparent', () => {
  it('writes version 00', () => {
    expect(formatTraceparent({ traceId: SPEC_TRACE_ID, parentId: SPEC_PARENT_ID, traceFlags: 1 })).toBe(
      `00-${SPEC_TRACE_ID}-${SPEC_PARENT_ID}-01`,
    );
  });

  it.each([
    [0x00, '00'],
    [TRACE_FLAG_SAMPLED, '01'],
    [TRACE_FLAG_RANDOM, '02'],
    [TRACE_FLAG_SAMPLED | TRACE_FLAG_RANDOM, '03'],
    [0xff, '03'],
    [0x04, '00'],
    [0x09, '01'],
  ] as const)('flags %i are written as %s (other flags are set to zero)', (flags, text) => {
    expect(formatTraceparent({ traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: flags })).toBe(
      `00-${TRACE_ID}-${PARENT_ID}-${text}`,
    );
  });

  it('lowercases upper-case ids', () => {
    expect(
      formatTraceparent({ traceId: SPEC_TRACE_ID.toUpperCase(), parentId: SPEC_PARENT_ID.toUpperCase(), traceFlags: 1 }),
    ).toBe(`00-${SPEC_TRACE_ID}-${SPEC_PARENT_ID}-01`);
  });

  it('downgrades a future version to 00 (#versioning-of-traceparent)', () => {
    const fields = parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`);
    expect(fields).toBeDefined();
    expect(formatTraceparent(fields as TraceparentFields)).toBe(`00-${TRACE_ID}-${PARENT_ID}-01`);
  });

  it.each([
    ['short trace id', { traceId: TRACE_ID.slice(1), parentId: PARENT_ID, traceFlags: 1 }],
    ['zero trace id', { traceId: '0'.repeat(32), parentId: PARENT_ID, traceFlags: 1 }],
    ['non-hex trace id', { traceId: `${TRACE_ID.slice(1)}x`, parentId: PARENT_ID, traceFlags: 1 }],
    ['long parent id', { traceId: TRACE_ID, parentId: `${PARENT_ID}0`, traceFlags: 1 }],
    ['zero parent id', { traceId: TRACE_ID, parentId: '0'.repeat(16), traceFlags: 1 }],
    ['non-hex parent id', { traceId: TRACE_ID, parentId: `${PARENT_ID.slice(1)}-`, traceFlags: 1 }],
  ])('throws a RangeError for a %s', (_name, fields) => {
    expect(() => formatTraceparent(fields)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------
// Fuzzing: fixed seeds so that a failure reproduces.

const HEX = '0123456789abcdef'.split('');
const ALPHABET = [...HEX, ...'ABCDEF-. \t,\n'.split(''), 'g', 'z', '\u00e9'];

const hexString = (length: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...HEX), { minLength: length, maxLength: length }).map((chars) => chars.join(''));

/** Valid headers of any version, with or without future fields and OWS. */
const validHeader: fc.Arbitrary<string> = fc
  .record({
    version: fc.integer({ min: 0, max: 0xfe }),
    traceId: hexString(32),
    parentId: hexString(16),
    flags: fc.integer({ min: 0, max: 0xff }),
    future: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    before: fc.constantFrom('', ' ', '\t', ' \t'),
    after: fc.constantFrom('', ' ', '\t', '\t '),
  })
  .map(({ version, traceId, parentId, flags, future, before, after }) => {
    const v = version.toString(16).padStart(2, '0');
    const f = flags.toString(16).padStart(2, '0');
    const tail = version !== 0 && future !== undefined ? `-${future}` : '';
    return `${before}${v}-${traceId}-${parentId}-${f}${tail}${after}`;
  });

type Mutation = { readonly kind: 'insert' | 'replace' | 'delete'; readonly at: number; readonly char: string };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('insert', 'replace', 'delete') as fc.Arbitrary<Mutation['kind']>,
  at: fc.nat(),
  char: fc.constantFrom(...ALPHABET),
});

function mutate(text: string, mutations: readonly Mutation[]): string {
  let out = text;
  for (const { kind, at, char } of mutations) {
    const i = out.length === 0 ? 0 : at % (out.length + (kind === 'insert' ? 1 : 0));
    if (kind === 'insert') out = out.slice(0, i) + char + out.slice(i);
    else if (kind === 'replace') out = out.slice(0, i) + char + out.slice(i + 1);
    else out = out.slice(0, i) + out.slice(i + 1);
  }
  return out;
}

const mutatedHeader = fc
  .tuple(validHeader, fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([header, mutations]) => mutate(header, mutations));

const alphabetString = fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 80 });

const anyInput = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  alphabetString,
  validHeader,
  mutatedHeader,
);

function reformatted(fields: TraceparentFields): string {
  return formatTraceparent(fields);
}

describe('parseTraceparent: fuzz', () => {
  it('never throws, and agrees with the regular-expression oracle', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        expect(parseTraceparent(input)).toEqual(oracle(input));
      }),
      { seed: 20240601, numRuns: 2000 },
    );
  });

  it('accepts every valid header', () => {
    fc.assert(
      fc.property(validHeader, (header) => {
        const fields = parseTraceparent(header);
        // A generated id can be all zeros only with negligible probability; the oracle decides.
        expect(fields).toEqual(oracle(header));
      }),
      { seed: 7, numRuns: 2000 },
    );
  });

  it('re-serialises an accepted header to one that parses to the same value', () => {
    fc.assert(
      fc.property(fc.oneof(validHeader, mutatedHeader), (input) => {
        const fields = parseTraceparent(input);
        if (fields === undefined) return;
        const header = reformatted(fields);
        expect(header).toMatch(OUTPUT_GRAMMAR);
        const again = parseTraceparent(header);
        expect(again).toEqual({
          version: 0,
          traceId: fields.traceId,
          parentId: fields.parentId,
          traceFlags: fields.traceFlags & 0x03,
        });
        // Idempotent from here on.
        expect(reformatted(again as TraceparentFields)).toBe(header);
      }),
      { seed: 99, numRuns: 2000 },
    );
  });

  it('always writes the output grammar', () => {
    fc.assert(
      fc.property(
        fc.record({
          traceId: hexString(32).filter((id) => /[1-9a-f]/.test(id)),
          parentId: hexString(16).filter((id) => /[1-9a-f]/.test(id)),
          traceFlags: fc.integer({ min: 0, max: 0xff }),
        }),
        (fields) => {
          expect(formatTraceparent(fields)).toMatch(OUTPUT_GRAMMAR);
        },
      ),
      { seed: 3, numRuns: 2000 },
    );
  });
});

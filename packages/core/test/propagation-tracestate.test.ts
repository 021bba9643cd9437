import type { TraceState } from '@opentelemetry/api';
import { createTraceState } from '@opentelemetry/api';
import { TraceState as OtelCoreTraceState } from '@opentelemetry/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TracestateMember } from '../src/tracing/propagation/index.js';
import {
  HitchTraceState,
  TRACESTATE_MAX_MEMBERS,
  isValidTracestateKey,
  isValidTracestateValue,
  parseTracestate,
  serializeTracestate,
  tracestateHeaderOf,
} from '../src/tracing/propagation/index.js';

// The grammar from the w3c/trace-context test harness (test/tracecontext/tracestate.py).
const KEY = String.raw`(?:[a-z][_0-9a-z\-*/]{0,255}|[0-9a-z][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})`;
const VALUE = String.raw`[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]`;
const MEMBER = `${KEY}=${VALUE}`;
/** What every non-empty value we write must look like: no OWS, at most 32 members. */
const OUTPUT_GRAMMAR = new RegExp(`^${MEMBER}(?:,${MEMBER}){0,31}$`);
const MEMBER_RE = new RegExp(`^(${KEY})=(${VALUE})$`);

/** An independent, regular-expression reading of the list rules, as an oracle. */
function oracle(headers: string | readonly string[]): TracestateMember[] | undefined {
  const joined = typeof headers === 'string' ? headers : headers.join(',');
  const members: TracestateMember[] = [];
  for (const raw of joined.split(',')) {
    const member = raw.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
    if (member === '') continue;
    const match = MEMBER_RE.exec(member);
    if (match === null) return undefined;
    const [, key = '', value = ''] = match;
    if (members.some((m) => m.key === key)) return undefined;
    members.push({ key, value });
  }
  return members.length > 32 ? undefined : members;
}

const bars = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => {
    const n = String(from + i).padStart(2, '0');
    return `bar${n}=${n}`;
  }).join(',');

// test_tracestate_all_allowed_characters
const KEY_WITHOUT_VENDOR = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
const KEY_WITH_VENDOR = `${KEY_WITHOUT_VENDOR}@a-z0-9_-*/`;
const ALL_VALUE_CHARS = [
  ...Array.from({ length: 0x2b - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)),
  ...Array.from({ length: 0x3c - 0x2d + 1 }, (_, i) => String.fromCharCode(0x2d + i)),
  ...Array.from({ length: 0x7e - 0x3e + 1 }, (_, i) => String.fromCharCode(0x3e + i)),
].join('');

describe('parseTracestate: valid values', () => {
  const valid: ReadonlyArray<readonly [string, string | readonly string[], ReadonlyArray<readonly [string, string]>]> = [
    ['one member', 'rojo=00f067aa0ba902b7', [['rojo', '00f067aa0ba902b7']]],
    ['two members in order', 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', [['rojo', '00f067aa0ba902b7'], ['congo', 't61rcWkgMzE']]],
    // test_tracestate_included_traceparent_included
    ['foo and bar', 'foo=1,bar=2', [['foo', '1'], ['bar', '2']]],
    // test_tracestate_empty_header
    ['empty header', '', []],
    ['empty then foo', ['', 'foo=1'], [['foo', '1']]],
    ['foo then empty', ['foo=1', ''], [['foo', '1']]],
    ['only OWS and commas', ' , \t,, ', []],
    ['empty members between', 'foo=1,,, bar=2 ,', [['foo', '1'], ['bar', '2']]],
    // test_tracestate_multiple_headers_different_keys
    [
      'three headers combine in order',
      ['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'],
      [['foo', '1'], ['bar', '2'], ['rojo', '1'], ['congo', '2'], ['baz', '3']],
    ],
    // test_tracestate_all_allowed_characters
    ['every allowed character, simple key', `${KEY_WITHOUT_VENDOR}=${ALL_VALUE_CHARS}`, [[KEY_WITHOUT_VENDOR, ALL_VALUE_CHARS]]],
    ['every allowed character, vendor key', `${KEY_WITH_VENDOR}=${ALL_VALUE_CHARS}`, [[KEY_WITH_VENDOR, ALL_VALUE_CHARS]]],
    // test_tracestate_ows_handling
    ['OWS around commas', 'foo=1 \t , \t bar=2, \t baz=3', [['foo', '1'], ['bar', '2'], ['baz', '3']]],
    ['tabs around commas', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3', [['foo', '1'], ['bar', '2'], ['baz', '3']]],
    ['leading space', ' foo=1', [['foo', '1']]],
    ['leading tab', '\tfoo=1', [['foo', '1']]],
    ['trailing space', 'foo=1 ', [['foo', '1']]],
    ['trailing tab', 'foo=1\t', [['foo', '1']]],
    ['tab and space around', '\t foo=1 \t', [['foo', '1']]],
    // test_tracestate_member_count_limit: 32 members over four headers
    [
      '32 members',
      [bars(1, 10), bars(11, 20), bars(21, 30), bars(31, 32)],
      Array.from({ length: 32 }, (_, i) => {
        const n = String(i + 1).padStart(2, '0');
        return [`bar${n}`, n] as const;
      }),
    ],
    // test_tracestate_key_length_limit
    ['256-character key', ['foo=1', `${'z'.repeat(256)}=1`], [['foo', '1'], ['z'.repeat(256), '1']]],
    ['241-character tenant, 14-character system', ['foo=1', `${'t'.repeat(241)}@${'v'.repeat(14)}=1`], [['foo', '1'], [`${'t'.repeat(241)}@${'v'.repeat(14)}`, '1']]],
    ['tenant starting with a digit', '1tenant@vendor=x', [['1tenant@vendor', 'x']]],
    ['leading spaces of a value are kept (#value)', 'foo=  1', [['foo', '  1']]],
    ['256-character value', `foo=${'x'.repeat(256)}`, [['foo', 'x'.repeat(256)]]],
    ['value of one space-free character', 'a=!', [['a', '!']]],
    ['duplicate value, different keys', 'foo=1,bar=1', [['foo', '1'], ['bar', '1']]],
    ['same name, different tenants', 'foo=1,foo@tenant=2,tenant@foo=3', [['foo', '1'], ['foo@tenant', '2'], ['tenant@foo', '3']]],
  ];

  it.each(valid)('%s', (_name, header, expected) => {
    const members = expected.map(([key, value]) => ({ key, value }));
    expect(parseTracestate(header)).toEqual(members);
    expect(oracle(header)).toEqual(members);
  });
});

describe('parseTracestate: invalid values are dropped whole', () => {
  const invalid: ReadonlyArray<readonly [string, string | readonly string[]]> = [
    // test_tracestate_duplicated_keys
    ['duplicate key, same value', 'foo=1,foo=1'],
    ['duplicate key, other value', 'foo=1,foo=2'],
    ['duplicate key across headers, same value', ['foo=1', 'foo=1']],
    ['duplicate key across headers, other value', ['foo=1', 'foo=2']],
    // test_tracestate_key_illegal_characters
    ['space in key', 'foo =1'],
    ['upper-case key', 'FOO=1'],
    ['dot in key', 'foo.bar=1'],
    // test_tracestate_key_illegal_vendor_format
    ['empty system', 'foo@=1,bar=2'],
    ['empty tenant', '@foo=1,bar=2'],
    ['two at signs in a row', 'foo@@bar=1,bar=2'],
    ['two at signs', 'foo@bar@baz=1,bar=2'],
    // test_tracestate_member_count_limit
    ['33 members', [bars(1, 10), bars(11, 20), bars(21, 30), bars(31, 33)]],
    // test_tracestate_key_length_limit
    ['257-character key', ['foo=1', `${'z'.repeat(257)}=1`]],
    ['242-character tenant', ['foo=1', `${'t'.repeat(242)}@v=1`]],
    ['15-character system', ['foo=1', `t@${'v'.repeat(15)}=1`]],
    // test_tracestate_value_illegal_characters
    ['equals sign in value', 'foo=bar=baz'],
    ['empty value', 'foo=,bar=3'],
    // More of the grammar.
    ['simple key starting with a digit', '1abc=1'],
    ['system starting with a digit', 'tenant@1vendor=1'],
    ['simple key starting with an underscore', '_foo=1'],
    ['257-character value', `foo=${'x'.repeat(257)}`],
    ['only spaces as value', 'foo=   '],
    ['tab inside a value', 'foo=a\tb'],
    ['non-ASCII value', 'foo=\u00e9'],
    ['DEL in value', 'foo=a\u007f'],
    ['member without equals', 'foo'],
    ['member without key', '=1'],
    ['invalid member after valid ones', 'foo=1,bar=2,baz'],
    ['invalid member in the second header', ['foo=1', 'BAR=2']],
    ['semicolon separator', 'foo=1;bar=2'],
  ];

  it.each(invalid)('%s', (_name, header) => {
    expect(parseTracestate(header)).toBeUndefined();
    expect(oracle(header)).toBeUndefined();
  });

  it('rejects non-string array elements from a sloppy carrier', () => {
    expect(parseTracestate(['foo=1', 42 as unknown as string])).toBeUndefined();
  });
});

describe('key and value checks', () => {
  it.each([
    ['foo', true],
    ['a', true],
    ['z'.repeat(256), true],
    ['z'.repeat(257), false],
    ['t@v', true],
    [`${'t'.repeat(241)}@${'v'.repeat(14)}`, true],
    ['0@v', true],
    ['', false],
    ['Foo', false],
    ['foo@', false],
    ['@foo', false],
  ] as const)('key %j is valid: %s', (key, expected) => {
    expect(isValidTracestateKey(key)).toBe(expected);
  });

  it.each([
    ['1', true],
    [' 1', true],
    ['1 ', false],
    ['', false],
    ['a,b', false],
    ['a=b', false],
    ['x'.repeat(256), true],
    ['x'.repeat(257), false],
  ] as const)('value %j is valid: %s', (value, expected) => {
    expect(isValidTracestateValue(value)).toBe(expected);
  });
});

describe('serializeTracestate', () => {
  it('joins members with commas and no whitespace', () => {
    expect(serializeTracestate([{ key: 'foo', value: '1' }, { key: 'bar', value: ' 2' }])).toBe('foo=1,bar= 2');
  });

  it('normalises OWS from a parsed header', () => {
    expect(serializeTracestate(parseTracestate(' foo=1 \t , \t bar=2, \t baz=3 ') ?? [])).toBe('foo=1,bar=2,baz=3');
  });

  it('leaves out invalid members, repeated keys and members after the 32nd', () => {
    const members = [
      { key: 'ok', value: '1' },
      { key: 'BAD', value: '1' },
      { key: 'ok', value: '2' },
      { key: 'bad', value: 'a,b' },
      ...Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
    ];
    const header = serializeTracestate(members);
    expect(header).toMatch(OUTPUT_GRAMMAR);
    expect(parseTracestate(header)).toHaveLength(32);
    expect(header.startsWith('ok=1,k0=v')).toBe(true);
  });
});

describe('HitchTraceState', () => {
  it('implements the OpenTelemetry TraceState interface', () => {
    const state: TraceState = HitchTraceState.empty().set('foo', '1');
    expect(state.get('foo')).toBe('1');
    expect(state.serialize()).toBe('foo=1');
  });

  it('parses a header, keeping order', () => {
    const state = HitchTraceState.fromHeader('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(state?.serialize()).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(state?.get('congo')).toBe('t61rcWkgMzE');
    expect(state?.get('missing')).toBeUndefined();
    expect(state?.size).toBe(2);
  });

  it('returns undefined for an invalid header and the empty state for an empty one', () => {
    expect(HitchTraceState.fromHeader('foo=1,foo=2')).toBeUndefined();
    expect(HitchTraceState.fromHeader('')).toBe(HitchTraceState.empty());
  });

  it('set moves the key to the front (#mutating-the-tracestate-field)', () => {
    const state = HitchTraceState.fromHeader('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    const updated = state?.set('congo', 'ucfJifl5GOE');
    expect(updated?.serialize()).toBe('congo=ucfJifl5GOE,rojo=00f067aa0ba902b7');
    const added = updated?.set('hitch', 'x');
    expect(added?.serialize()).toBe('hitch=x,congo=ucfJifl5GOE,rojo=00f067aa0ba902b7');
  });

  it('is immutable', () => {
    const state = HitchTraceState.fromHeader('foo=1');
    state?.set('bar', '2');
    state?.unset('foo');
    expect(state?.serialize()).toBe('foo=1');
  });

  it('ignores an invalid key or value in set', () => {
    const state = HitchTraceState.fromHeader('foo=1') as HitchTraceState;
    expect(state.set('BAD', '1')).toBe(state);
    expect(state.set('bar', 'a=b')).toBe(state);
    expect(state.set('bar', '')).toBe(state);
    expect(state.set('bar', 'trailing ')).toBe(state);
  });

  it('drops from the end when set would make 33 members (#tracestate-limits)', () => {
    const state = HitchTraceState.fromHeader([bars(1, 10), bars(11, 20), bars(21, 30), bars(31, 32)]) as HitchTraceState;
    expect(state.size).toBe(TRACESTATE_MAX_MEMBERS);
    const next = state.set('hitch', 'x');
    expect(next.size).toBe(TRACESTATE_MAX_MEMBERS);
    expect(next.members()[0]).toEqual({ key: 'hitch', value: 'x' });
    expect(next.get('bar32')).toBeUndefined();
    expect(next.get('bar31')).toBe('31');
    // Updating an existing key does not drop anything.
    expect(state.set('bar32', 'new').size).toBe(32);
    expect(state.set('bar32', 'new').get('bar31')).toBe('31');
  });

  it('unset removes a key, and keeps the state when the key is absent', () => {
    const state = HitchTraceState.fromHeader('foo=1,bar=2') as HitchTraceState;
    expect(state.unset('foo').serialize()).toBe('bar=2');
    expect(state.unset('missing')).toBe(state);
    expect(state.unset('foo').unset('bar').size).toBe(0);
  });

  it('fromMembers keeps valid, first-seen members, up to 32', () => {
    const state = HitchTraceState.fromMembers([
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
      { key: 'B', value: '3' },
      { key: 'c', value: '' },
      { key: 'd', value: '4' },
    ]);
    expect(state.serialize()).toBe('a=1,d=4');
  });
});

describe('tracestateHeaderOf', () => {
  it('serialises our own trace state', () => {
    expect(tracestateHeaderOf(HitchTraceState.fromHeader('foo=1, bar=2') as HitchTraceState)).toBe('foo=1,bar=2');
  });

  it('re-validates another implementation (OpenTelemetry core TraceState)', () => {
    expect(tracestateHeaderOf(new OtelCoreTraceState('foo=1,bar=2'))).toBe('foo=1,bar=2');
    expect(tracestateHeaderOf(createTraceState('a=1').set('b', '2'))).toBe('b=2,a=1');
    // The core implementation accepts values our grammar forbids; they are not forwarded.
    const foreign: TraceState = { get: () => undefined, set: () => foreign, unset: () => foreign, serialize: () => 'a=1,a=2' };
    expect(tracestateHeaderOf(foreign)).toBe('');
    const empty: TraceState = { get: () => undefined, set: () => empty, unset: () => empty, serialize: () => '' };
    expect(tracestateHeaderOf(empty)).toBe('');
  });

  it('agrees with OpenTelemetry core on what valid headers contain', () => {
    const header = 'congo=ucfJifl5GOE,rojo=00f067aa0ba902b7,t@v=x';
    expect(tracestateHeaderOf(HitchTraceState.fromHeader(header) as HitchTraceState)).toBe(new OtelCoreTraceState(header).serialize());
  });
});

// ---------------------------------------------------------------------------
// Fuzzing: fixed seeds so that a failure reproduces.

const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/'.split('');
const LCALPHA = 'abcdefghijklmnopqrstuvwxyz'.split('');
const VALUE_CHARS = ALL_VALUE_CHARS.split('');
const NON_SPACE_VALUE_CHARS = VALUE_CHARS.filter((c) => c !== ' ');
const ALPHABET = [...KEY_CHARS, '@', '=', ',', ' ', '\t', 'A', '.', '~', '"', '\u00e9'];

const text = (chars: readonly string[], min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...chars), minLength: min, maxLength: max });

const simpleKey = fc.tuple(fc.constantFrom(...LCALPHA), text(KEY_CHARS, 0, 12)).map(([a, b]) => a + b);
const tenantKey = fc
  .tuple(fc.constantFrom(...LCALPHA, ...'0123456789'.split('')), text(KEY_CHARS, 0, 8), fc.constantFrom(...LCALPHA), text(KEY_CHARS, 0, 13))
  .map(([a, b, c, d]) => `${a}${b}@${c}${d}`);
const value = fc.tuple(text(VALUE_CHARS, 0, 20), fc.constantFrom(...NON_SPACE_VALUE_CHARS)).map(([a, b]) => a + b);
const ows = fc.constantFrom('', ' ', '\t', ' \t ');

/** Valid headers: unique keys, OWS, empty members, sometimes split over several fields. */
const validHeaders: fc.Arbitrary<string | string[]> = fc
  .tuple(
    fc.uniqueArray(fc.tuple(fc.oneof(simpleKey, tenantKey), value), { selector: ([key]) => key, maxLength: 32 }),
    fc.array(fc.tuple(ows, ows, fc.boolean()), { minLength: 32, maxLength: 32 }),
    fc.integer({ min: 1, max: 3 }),
  )
  .map(([pairs, spacing, parts]) => {
    const members = pairs.map(([key, val], i) => {
      const [before, after, empty] = spacing[i] ?? ['', '', false];
      return `${before}${key}=${val}${after}${empty ? ',' : ''}`;
    });
    if (parts === 1) return members.join(',');
    const size = Math.ceil(members.length / parts) || 1;
    const fields: string[] = [];
    for (let i = 0; i < members.length; i += size) fields.push(members.slice(i, i + size).join(','));
    return fields;
  });

type Mutation = { readonly kind: 'insert' | 'replace' | 'delete'; readonly at: number; readonly char: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('insert', 'replace', 'delete') as fc.Arbitrary<Mutation['kind']>,
  at: fc.nat(),
  char: fc.constantFrom(...ALPHABET),
});

function mutate(input: string, mutations: readonly Mutation[]): string {
  let out = input;
  for (const { kind, at, char } of mutations) {
    const i = out.length === 0 ? 0 : at % (out.length + (kind === 'insert' ? 1 : 0));
    if (kind === 'insert') out = out.slice(0, i) + char + out.slice(i);
    else if (kind === 'replace') out = out.slice(0, i) + char + out.slice(i + 1);
    else out = out.slice(0, i) + out.slice(i + 1);
  }
  return out;
}

const mutatedHeader = fc
  .tuple(validHeaders, fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([headers, mutations]) => mutate(typeof headers === 'string' ? headers : headers.join(','), mutations));

const anyInput: fc.Arbitrary<string | string[]> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 4 }),
  text(ALPHABET, 0, 120),
  validHeaders,
  mutatedHeader,
);

describe('parseTracestate: fuzz', () => {
  it('never throws, and agrees with the regular-expression oracle', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        expect(parseTracestate(input)).toEqual(oracle(input));
      }),
      { seed: 424242, numRuns: 2000 },
    );
  });

  it('accepts every valid header', () => {
    fc.assert(
      fc.property(validHeaders, (input) => {
        expect(parseTracestate(input)).toBeDefined();
      }),
      { seed: 11, numRuns: 2000 },
    );
  });

  it('re-serialises an accepted header to one that parses to the same members, in the grammar', () => {
    fc.assert(
      fc.property(fc.oneof(validHeaders, mutatedHeader), (input) => {
        const members = parseTracestate(input);
        if (members === undefined) return;
        const header = serializeTracestate(members);
        if (members.length > 0) expect(header).toMatch(OUTPUT_GRAMMAR);
        else expect(header).toBe('');
        expect(parseTracestate(header)).toEqual(members);
        const state = HitchTraceState.fromHeader(input);
        expect(state?.serialize()).toBe(header);
      }),
      { seed: 5150, numRuns: 2000 },
    );
  });

  it('keeps the rules through any sequence of set and unset', () => {
    const operation = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.oneof(simpleKey, tenantKey, text(ALPHABET, 0, 6)), fc.oneof(value, text(ALPHABET, 0, 6))),
      fc.tuple(fc.constant('unset' as const), fc.oneof(simpleKey, text(ALPHABET, 0, 4)), fc.constant('')),
    );
    fc.assert(
      fc.property(validHeaders, fc.array(operation, { maxLength: 40 }), (input, operations) => {
        let state = HitchTraceState.fromHeader(input) ?? HitchTraceState.empty();
        for (const [kind, key, val] of operations) {
          const before = state;
          state = kind === 'set' ? state.set(key, val) : state.unset(key);
          if (kind === 'set' && isValidTracestateKey(key) && isValidTracestateValue(val)) {
            expect(state.members()[0]).toEqual({ key, value: val });
          } else if (kind === 'set') {
            expect(state).toBe(before);
          } else {
            expect(state.get(key)).toBeUndefined();
          }
          expect(state.size).toBeLessThanOrEqual(TRACESTATE_MAX_MEMBERS);
        }
        const header = state.serialize();
        if (state.size > 0) expect(header).toMatch(OUTPUT_GRAMMAR);
        expect(parseTracestate(header)).toEqual(state.members());
      }),
      { seed: 8, numRuns: 2000 },
    );
  });
});

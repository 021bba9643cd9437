import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BaggageMember, BaggageProperty } from '../src/tracing/propagation/index.js';
import {
  BAGGAGE_MAX_BYTES,
  BAGGAGE_MAX_MEMBERS,
  decodeBaggageValue,
  encodeBaggageValue,
  isBaggageKey,
  parseBaggage,
  parseBaggageProperties,
  serializeBaggage,
  serializeBaggageProperties,
} from '../src/tracing/propagation/index.js';

const TOKEN = String.raw`[!#$%&'*+\-.^_\`|~0-9A-Za-z]+`;
/** An encoded value: baggage-octets, with `%` only as the start of an escape. */
const ENCODED_VALUE = String.raw`(?:[\x21\x23\x24\x26-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]|%[0-9A-F]{2})*`;
const MEMBER = `${TOKEN}=${ENCODED_VALUE}(?:;${TOKEN}(?:=${ENCODED_VALUE})?)*`;
/** What every non-empty value we write must look like. */
const OUTPUT_GRAMMAR = new RegExp(`^${MEMBER}(?:,${MEMBER})*$`);

function member(key: string, value: string, properties: readonly BaggageProperty[] = []): BaggageMember {
  return { key, value, properties };
}

/** Python's urllib.parse.quote of the w3c/baggage test value "\t \"';=asdf!@#$%^&*()". */
const SUITE_VALUE = '\t "\';=asdf!@#$%^&*()';
const SUITE_ENCODED = '%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29';

describe('parseBaggage: the w3c/baggage test cases', () => {
  const cases: ReadonlyArray<readonly [string, string, readonly BaggageMember[]]> = [
    ['test_parse_simple', 'SomeKey=SomeValue', [member('SomeKey', 'SomeValue')]],
    [
      'test_parse_multiple',
      'SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal',
      [member('SomeKey', 'SomeValue', [{ key: 'SomeProp' }]), member('SomeKey2', 'SomeValue2', [{ key: 'ValueProp', value: 'PropVal' }])],
    ],
    [
      'test_parse_multiple_ows',
      'SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t ValueProp \t = \t PropVal',
      [member('SomeKey', 'SomeValue', [{ key: 'SomeProp' }]), member('SomeKey2', 'SomeValue2', [{ key: 'ValueProp', value: 'PropVal' }])],
    ],
    [
      'test_parse_multiple_kv_property',
      'SomeKey=SomeValue;SomePropKey=SomePropValue,SomeKey2=SomeValue2;SomePropKey2=SomePropValue2',
      [
        member('SomeKey', 'SomeValue', [{ key: 'SomePropKey', value: 'SomePropValue' }]),
        member('SomeKey2', 'SomeValue2', [{ key: 'SomePropKey2', value: 'SomePropValue2' }]),
      ],
    ],
    [
      'test_parse_multiple_kv_property_ows',
      'SomeKey \t = \t SomeValue \t ; \t SomePropKey=SomePropValue \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t SomePropKey2 \t = \t SomePropValue2',
      [
        member('SomeKey', 'SomeValue', [{ key: 'SomePropKey', value: 'SomePropValue' }]),
        member('SomeKey2', 'SomeValue2', [{ key: 'SomePropKey2', value: 'SomePropValue2' }]),
      ],
    ],
    ['test_parse_multiple_equals', 'SomeKey=SomeValue=equals', [member('SomeKey', 'SomeValue=equals')]],
    ['test_parse_percent_encoded', `SomeKey=${SUITE_ENCODED}`, [member('SomeKey', SUITE_VALUE)]],
    ['test_parse_property', 'SomeKey=SomeValue;SomeProp', [member('SomeKey', 'SomeValue', [{ key: 'SomeProp' }])]],
    [
      'test_parse_multi_property',
      'SomeKey=SomeValue;SomeProp;SecondProp=PropValue',
      [member('SomeKey', 'SomeValue', [{ key: 'SomeProp' }, { key: 'SecondProp', value: 'PropValue' }])],
    ],
    [
      'test_parse_multiple_properties_same_name',
      'SomeKey=SomeValue;SomeProp;SomeProp=PropValue;SomeProp=AnotherPropValue',
      [
        member('SomeKey', 'SomeValue', [
          { key: 'SomeProp' },
          { key: 'SomeProp', value: 'PropValue' },
          { key: 'SomeProp', value: 'AnotherPropValue' },
        ]),
      ],
    ],
    ['test_parse_kv_property', 'SomeKey=SomeValue;SomePropKey=SomePropValue', [member('SomeKey', 'SomeValue', [{ key: 'SomePropKey', value: 'SomePropValue' }])]],
    ['test_parse_simple_ows', 'SomeKey \t = \t SomeValue \t ', [member('SomeKey', 'SomeValue')]],
    ['test_parse_percent_encoded_ows', `SomeKey \t = \t ${SUITE_ENCODED} \t `, [member('SomeKey', SUITE_VALUE)]],
    ['test_parse_property_ows', 'SomeKey \t = \t SomeValue \t ; \t SomeProp', [member('SomeKey', 'SomeValue', [{ key: 'SomeProp' }])]],
    [
      'test_parse_multi_property_ows',
      'SomeKey \t = \t SomeValue \t ; \t SomeProp \t ; \t SecondProp \t = \t PropValue',
      [member('SomeKey', 'SomeValue', [{ key: 'SomeProp' }, { key: 'SecondProp', value: 'PropValue' }])],
    ],
    [
      'test_parse_kv_property_ows',
      'SomeKey \t = \t SomeValue \t ; \t SomePropKey \t = \t SomePropValue',
      [member('SomeKey', 'SomeValue', [{ key: 'SomePropKey', value: 'SomePropValue' }])],
    ],
    [
      'test_parse_percent_encoded_property',
      `SomeKey=SomeValue;SomePropKey=${SUITE_ENCODED}`,
      [member('SomeKey', 'SomeValue', [{ key: 'SomePropKey', value: SUITE_VALUE }])],
    ],
    [
      'test_parse_property_without_value_no_percent_decoding',
      'SomeKey=SomeValue;ValueProp%20%09%20%3D%20%09%20PropVal',
      [member('SomeKey', 'SomeValue', [{ key: 'ValueProp%20%09%20%3D%20%09%20PropVal' }])],
    ],
    // Examples from the specification text.
    ['spec: single header', 'userId=alice,serverNode=DF%2028,isProduction=false', [member('userId', 'alice'), member('serverNode', 'DF 28'), member('isProduction', 'false')]],
    [
      'spec: spaces around names and values',
      'userId =   alice, serverNode = DF%2028, isProduction = false',
      [member('userId', 'alice'), member('serverNode', 'DF 28'), member('isProduction', 'false')],
    ],
    [
      'spec: properties',
      'key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue',
      [
        member('key1', 'value1', [{ key: 'property1' }, { key: 'property2' }]),
        member('key2', 'value2'),
        member('key3', 'value3', [{ key: 'propertyKey', value: 'propertyValue' }]),
      ],
    ],
  ];

  it.each(cases)('%s', (_name, header, expected) => {
    expect(parseBaggage(header)).toEqual(expected);
  });

  it('combines several header values (one list)', () => {
    expect(parseBaggage(['userId=alice', 'serverNode=DF%2028,isProduction=false'])).toEqual([
      member('userId', 'alice'),
      member('serverNode', 'DF 28'),
      member('isProduction', 'false'),
    ]);
  });
});

describe('parseBaggage: invalid members are skipped one by one (#mutating-baggage)', () => {
  const cases: ReadonlyArray<readonly [string, string, readonly string[]]> = [
    ['space in key', 'a=1,b c=2,d=3', ['a', 'd']],
    ['empty key', 'a=1,=2,d=3', ['a', 'd']],
    ['no equals sign', 'a=1,b,d=3', ['a', 'd']],
    ['double quote in value', 'a=1,b=x"y,d=3', ['a', 'd']],
    ['backslash in value', 'a=1,b=x\\y,d=3', ['a', 'd']],
    ['space inside value', 'a=1,b=x y,d=3', ['a', 'd']],
    ['non-ASCII value', 'a=1,b=\u00e9,d=3', ['a', 'd']],
    ['non-ASCII key', 'a=1,\u00e9=1,d=3', ['a', 'd']],
    ['separator in key', 'a=1,b/c=1,d=3', ['a', 'd']],
    ['empty property', 'a=1,b=2;,d=3', ['a', 'd']],
    ['property with a bad key', 'a=1,b=2;p q=1,d=3', ['a', 'd']],
    ['property with a bad value', 'a=1,b=2;p=x"y,d=3', ['a', 'd']],
    ['only commas and OWS', ' , ,\t, ', []],
    ['empty header', '', []],
  ];

  it.each(cases)('%s', (_name, header, keys) => {
    expect(parseBaggage(header).map((m) => m.key)).toEqual(keys);
  });

  it('accepts an empty value (value = *baggage-octet)', () => {
    expect(parseBaggage('a=,b= ;p')).toEqual([member('a', ''), member('b', '', [{ key: 'p' }])]);
  });

  it('keeps duplicate keys in order', () => {
    expect(parseBaggage('a=1,b=2,a=3').map((m) => `${m.key}=${m.value}`)).toEqual(['a=1', 'b=2', 'a=3']);
  });

  it('skips non-string array elements', () => {
    expect(parseBaggage(['a=1', 7 as unknown as string, 'b=2']).map((m) => m.key)).toEqual(['a', 'b']);
  });
});

describe('percent-encoding (#value)', () => {
  it.each([
    ['DF 28', 'DF%2028'],
    ['100%', '100%25'],
    ['a=b', 'a=b'],
    ['comma,semi;quote"back\\', 'comma%2Csemi%3Bquote%22back%5C'],
    ['tab\tnewline\n', 'tab%09newline%0A'],
    ['\u00e9', '%C3%A9'],
    ['\u20ac', '%E2%82%AC'],
    ['\u{1f600}', '%F0%9F%98%80'],
    ['lone \ud800 surrogate', 'lone%20%EF%BF%BD%20surrogate'],
    ['lone \udc00 low surrogate', 'lone%20%EF%BF%BD%20low%20surrogate'],
    ['!#$&\'()*+-./:<>?@[]^_`{|}~', '!#$&\'()*+-./:<>?@[]^_`{|}~'],
    ['', ''],
  ])('encodes %j as %j', (value, encoded) => {
    expect(encodeBaggageValue(value)).toBe(encoded);
  });

  it.each([
    ['DF%2028', 'DF 28'],
    ['%c3%a9', '\u00e9'],
    ['%C3%A9', '\u00e9'],
    ['%F0%9F%98%80', '\u{1f600}'],
    // Invalid UTF-8 becomes U+FFFD.
    ['%FF', '\ufffd'],
    ['a%C3', 'a\ufffd'],
    ['%C3%28', '\ufffd('],
    ['%ED%A0%80', '\ufffd\ufffd\ufffd'],
    // A `%` without two hex digits stays as it is.
    ['100%', '100%'],
    ['%zz', '%zz'],
    ['%4', '%4'],
    ['%%41', '%A'],
    // A byte-order mark is data, not a signature.
    ['%EF%BB%BFx', '\ufeffx'],
    ['plain', 'plain'],
  ])('decodes %j as %j', (value, decoded) => {
    expect(decodeBaggageValue(value)).toBe(decoded);
  });

  it('encodes the w3c/baggage suite value so that it decodes back', () => {
    expect(decodeBaggageValue(encodeBaggageValue(SUITE_VALUE))).toBe(SUITE_VALUE);
  });
});

describe('serializeBaggage', () => {
  it('writes key=value;properties joined by commas', () => {
    expect(
      serializeBaggage([
        member('userId', 'alice'),
        member('serverNode', 'DF 28', [{ key: 'p1' }, { key: 'p2', value: 'a b' }]),
      ]),
    ).toBe('userId=alice,serverNode=DF%2028;p1;p2=a%20b');
  });

  it('leaves out members and properties whose key is not a token', () => {
    expect(serializeBaggage([member('bad key', 'x'), member('ok', 'y', [{ key: 'bad key' }, { key: 'p' }])])).toBe('ok=y;p');
  });

  // LimitsTest.test_serialize_at_least_64
  it('propagates 64 members', () => {
    const members = Array.from({ length: 64 }, (_, i) => member(`key${i}`, 'value'));
    const header = serializeBaggage(members);
    expect(header.split(',')).toHaveLength(64);
    expect(parseBaggage(header)).toEqual(members);
  });

  // LimitsTest.test_serialize_long_entry
  it('propagates one member of exactly 8192 bytes', () => {
    const header = serializeBaggage([member('a', '0123456789'.repeat(819))]);
    expect(header).toHaveLength(8192);
  });

  it('drops a member that would pass 8192 bytes instead of cutting it', () => {
    expect(serializeBaggage([member('a', '0123456789'.repeat(819) + 'x')])).toBe('');
    const header = serializeBaggage([member('a', 'x'.repeat(8000)), member('b', 'y'.repeat(500)), member('c', 'z')]);
    expect(header).toBe(`a=${'x'.repeat(8000)},c=z`);
  });

  it('counts the bytes after encoding', () => {
    // A euro sign is 3 UTF-8 bytes, written as 9 characters (%E2%82%AC): 910 of them and
    // "a=" make 8192 bytes on the wire.
    expect(serializeBaggage([member('a', '\u20ac'.repeat(910))])).toHaveLength(8192);
    expect(serializeBaggage([member('a', '\u20ac'.repeat(911))])).toBe('');
  });

  // LimitsTest.test_serialize_over_64_entries
  it('keeps at most 64 of 100 members, all of them whole', () => {
    const members = Array.from({ length: 100 }, (_, i) => member(`key${i}`, 'val'));
    const parsed = parseBaggage(serializeBaggage(members));
    expect(parsed).toHaveLength(BAGGAGE_MAX_MEMBERS);
    expect(parsed).toEqual(members.slice(0, 64));
  });

  // LimitsTest.test_serialize_many_entries
  it('keeps a subset within both limits of 512 members', () => {
    const members = Array.from({ length: 512 }, (_, i) => member(String(i).padStart(3, '0'), '0123456789a'));
    const header = serializeBaggage(members);
    const parsed = parseBaggage(header);
    expect(parsed.length).toBeLessThanOrEqual(BAGGAGE_MAX_MEMBERS);
    expect(new TextEncoder().encode(header).length).toBeLessThanOrEqual(BAGGAGE_MAX_BYTES);
    for (const m of parsed) expect(members).toContainEqual(m);
  });
});

describe('parseBaggage: limits on extract (#limits)', () => {
  it('keeps the first 64 of 65 members', () => {
    const header = Array.from({ length: 65 }, (_, i) => `k${i}=v`).join(',');
    const parsed = parseBaggage(header);
    expect(parsed).toHaveLength(64);
    expect(parsed.at(-1)?.key).toBe('k63');
  });

  it('counts members across several headers', () => {
    const a = Array.from({ length: 40 }, (_, i) => `a${i}=v`).join(',');
    const b = Array.from({ length: 40 }, (_, i) => `b${i}=v`).join(',');
    const parsed = parseBaggage([a, b]);
    expect(parsed).toHaveLength(64);
    expect(parsed.at(-1)?.key).toBe('b23');
  });

  it('does not count invalid members', () => {
    const header = [...Array.from({ length: 10 }, () => 'bad key=1'), ...Array.from({ length: 64 }, (_, i) => `k${i}=v`)].join(',');
    expect(parseBaggage(header)).toHaveLength(64);
  });

  it('drops whole members past 8192 bytes and keeps later ones that fit', () => {
    const big = `a=${'x'.repeat(8000)}`;
    const parsed = parseBaggage(`${big},b=${'y'.repeat(500)},c=z`);
    expect(parsed.map((m) => m.key)).toEqual(['a', 'c']);
    expect(parseBaggage(`a=${'x'.repeat(8191)}`)).toEqual([]);
    expect(parseBaggage(`a=${'x'.repeat(8190)}`)).toHaveLength(1);
  });
});

describe('properties as OpenTelemetry metadata strings', () => {
  it('parses and writes a property list', () => {
    const properties = parseBaggageProperties('p1; p2 = a%20b ;p3=');
    expect(properties).toEqual([{ key: 'p1' }, { key: 'p2', value: 'a b' }, { key: 'p3', value: '' }]);
    expect(serializeBaggageProperties(properties)).toBe('p1;p2=a%20b;p3=');
  });

  it('skips invalid properties one by one and allows a leading semicolon', () => {
    expect(parseBaggageProperties(';p1;bad key;p2=x"y;p3')).toEqual([{ key: 'p1' }, { key: 'p3' }]);
  });

  it('knows tokens', () => {
    expect(isBaggageKey("!#$%&'*+-.^_`|~09AZaz")).toBe(true);
    expect(isBaggageKey('')).toBe(false);
    expect(isBaggageKey('a b')).toBe(false);
    expect(isBaggageKey('a=b')).toBe(false);
    expect(isBaggageKey('\u00e9')).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// Fuzzing: fixed seeds so that a failure reproduces.

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('');
const OCTETS = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter(
  (c) => c !== '"' && c !== ',' && c !== ';' && c !== '\\',
);
const ALPHABET = [...'aZ9%=;, \t"\\'.split(''), '%2', '%C3', '%A9', '\u00e9'];

const text = (chars: readonly string[], min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...chars), minLength: min, maxLength: max });
const ows = fc.constantFrom('', ' ', '\t', ' \t ');
const token = text(TCHARS, 1, 10);
const rawValue = text(OCTETS, 0, 20);
const rawProperty = fc.oneof(
  fc.tuple(ows, token, ows).map(([a, k, b]) => `${a}${k}${b}`),
  fc.tuple(ows, token, ows, ows, rawValue, ows).map(([a, k, b, c, v, d]) => `${a}${k}${b}=${c}${v}${d}`),
);
const rawMember = fc
  .tuple(ows, token, ows, ows, rawValue, ows, fc.array(rawProperty, { maxLength: 3 }))
  .map(([a, k, b, c, v, d, props]) => `${a}${k}${b}=${c}${v}${d}${props.map((p) => `;${p}`).join('')}`);
const validHeader = fc.array(rawMember, { maxLength: 12 }).map((members) => members.join(','));

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
  .tuple(validHeader, fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([header, mutations]) => mutate(header, mutations));

const anyInput: fc.Arbitrary<string | string[]> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 4 }),
  text(ALPHABET, 0, 120),
  validHeader,
  mutatedHeader,
);

/** Members built from arbitrary strings, as an application would create them. */
const anyMembers = fc.array(
  fc.record({
    key: fc.oneof(token, fc.string({ maxLength: 8 })),
    value: fc.string({ unit: 'binary', maxLength: 30 }),
    properties: fc.array(
      fc.oneof(
        fc.record({ key: fc.oneof(token, fc.string({ maxLength: 5 })) }),
        fc.record({ key: token, value: fc.string({ unit: 'binary', maxLength: 10 }) }),
      ),
      { maxLength: 3 },
    ),
  }),
  { maxLength: 80 },
);

/** What a JavaScript string becomes after a UTF-8 round trip (lone surrogates turn into U+FFFD). */
function wellFormed(value: string): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(new TextEncoder().encode(value));
}

describe('baggage: fuzz', () => {
  it('parse never throws and re-serialises to a header that parses to the same members', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const members = parseBaggage(input);
        expect(members.length).toBeLessThanOrEqual(BAGGAGE_MAX_MEMBERS);
        const header = serializeBaggage(members);
        if (members.length > 0) expect(header).toMatch(OUTPUT_GRAMMAR);
        expect(parseBaggage(header)).toEqual(members);
        expect(serializeBaggage(parseBaggage(header))).toBe(header);
      }),
      { seed: 1234, numRuns: 2000 },
    );
  });

  it('keeps every member of a valid header', () => {
    fc.assert(
      fc.property(validHeader, (header) => {
        const expected = header === '' ? 0 : header.split(',').length;
        expect(parseBaggage(header)).toHaveLength(expected);
      }),
      { seed: 77, numRuns: 2000 },
    );
  });

  it('serialises any members within the limits and in the grammar', () => {
    fc.assert(
      fc.property(anyMembers, (members) => {
        const header = serializeBaggage(members);
        expect(header.length).toBeLessThanOrEqual(BAGGAGE_MAX_BYTES);
        if (header.length > 0) expect(header).toMatch(OUTPUT_GRAMMAR);
        const parsed = parseBaggage(header);
        expect(parsed.length).toBeLessThanOrEqual(BAGGAGE_MAX_MEMBERS);
        const kept = members.filter((m) => isBaggageKey(m.key));
        expect(parsed.map((m) => m.key)).toEqual(kept.slice(0, parsed.length).map((m) => m.key));
        parsed.forEach((m, i) => expect(m.value).toBe(wellFormed(kept[i]?.value ?? '')));
      }),
      { seed: 31337, numRuns: 2000 },
    );
  });

  it('decode(encode(value)) is the value, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (value) => {
        const encoded = encodeBaggageValue(value);
        expect(encoded).toMatch(new RegExp(`^${ENCODED_VALUE}$`));
        expect(decodeBaggageValue(encoded)).toBe(wellFormed(value));
      }),
      { seed: 2718, numRuns: 2000 },
    );
  });

  it('decode never throws on any input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), text(ALPHABET, 0, 40)), (value) => {
        expect(typeof decodeBaggageValue(value)).toBe('string');
      }),
      { seed: 161, numRuns: 2000 },
    );
  });
});

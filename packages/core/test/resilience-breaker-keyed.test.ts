import { describe, expect, it } from 'vitest';
import { isInvalidOptionError } from '../src/errors/hitch-error.js';
import { isCircuitOpenError } from '../src/errors/resilience-errors.js';
import { CircuitBreaker, circuitBreaker } from '../src/resilience/circuit-breaker.js';
import { keyedBreakers } from '../src/resilience/keyed-breakers.js';
import { FakeClock } from './support/fake-clock.js';

const ok = (): Promise<string> => Promise.resolve('ok');
const boom = (): Promise<never> => Promise.reject(new Error('boom'));

describe('keyedBreakers', () => {
  it('keeps one breaker per key, named after the key by default', () => {
    const clock = new FakeClock();
    const breakers = keyedBreakers({ create: () => ({ clock }) });
    const a = breakers.get('api.example.com');
    expect(a).toBeInstanceOf(CircuitBreaker);
    expect(a.name).toBe('api.example.com');
    expect(breakers.get('api.example.com')).toBe(a);
    expect(breakers.get('other.example.com')).not.toBe(a);
    expect(breakers.size).toBe(2);
    expect(breakers.maxKeys).toBe(1000);
  });

  it('uses the options as given when they name the breaker, and a breaker returned by create as is', () => {
    const clock = new FakeClock();
    const shared = circuitBreaker({ name: 'shared', clock });
    const breakers = keyedBreakers({ create: (key) => (key.startsWith('s') ? shared : { name: `http:${key}`, clock }) });
    expect(breakers.get('s1')).toBe(shared);
    expect(breakers.get('s2')).toBe(shared);
    expect(breakers.get('x').name).toBe('http:x');
  });

  it('opens only the breaker of the failing key', async () => {
    const clock = new FakeClock();
    const breakers = keyedBreakers({ create: () => ({ clock, consecutiveFailures: 2 }) });
    await expect(breakers.execute('down', boom)).rejects.toThrow('boom');
    await expect(breakers.execute('down', boom)).rejects.toThrow('boom');
    expect(breakers.get('down').state).toBe('open');
    const rejected = await breakers.execute('down', ok).catch((error: unknown) => error);
    expect(isCircuitOpenError(rejected)).toBe(true);
    await expect(breakers.execute('up', ok)).resolves.toBe('ok');
    expect(breakers.get('up').state).toBe('closed');
  });

  it('passes the signal and deadline through', async () => {
    const clock = new FakeClock();
    const breakers = keyedBreakers({ create: () => ({ clock }) });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await breakers.execute('k', async (signal) => void (seen = signal), { signal: controller.signal, deadline: clock.now() + 1_000 });
    expect(seen).toBe(controller.signal);
    const late = await breakers.execute('k', ok, { deadline: clock.now() - 1 }).catch((error: unknown) => error);
    expect((late as Error).name).toBe('TimeoutError');
  });

  it('stays within maxKeys over 10,000 distinct keys and keeps the most recently used', () => {
    const clock = new FakeClock();
    const created: CircuitBreaker[] = [];
    const breakers = keyedBreakers({
      maxKeys: 100,
      create: () => {
        const breaker = circuitBreaker({ clock });
        created.push(breaker);
        return breaker;
      },
    });
    for (let i = 0; i < 10_000; i++) {
      breakers.get(`host-${i}`);
      expect(breakers.size).toBeLessThanOrEqual(100);
    }
    expect(breakers.size).toBe(100);
    expect(created).toHaveLength(10_000);
    // The 100 most recent are still there: getting them creates nothing.
    for (let i = 9_900; i < 10_000; i++) expect(breakers.get(`host-${i}`)).toBe(created[i]);
    expect(created).toHaveLength(10_000);
    // An older one was dropped: it comes back as a new breaker.
    expect(breakers.get('host-0')).not.toBe(created[0]);
    expect(created).toHaveLength(10_001);
    expect(breakers.size).toBe(100);
  });

  it('evicts the least recently used, not the oldest created', () => {
    const clock = new FakeClock();
    let creations = 0;
    const breakers = keyedBreakers({ maxKeys: 3, create: () => (creations++, { clock }) });
    const a = breakers.get('a');
    const b = breakers.get('b');
    breakers.get('c');
    expect(breakers.get('a')).toBe(a); // a is now the most recent
    breakers.get('d'); // evicts b
    expect(creations).toBe(4);
    expect(breakers.get('a')).toBe(a);
    expect(breakers.get('b')).not.toBe(b); // recreated, which evicts c
    expect(creations).toBe(5);
    expect(breakers.size).toBe(3);
  });

  it('with the default maxKeys, 10,000 keys leave 1000 breakers', () => {
    const clock = new FakeClock();
    const breakers = keyedBreakers({ create: () => ({ clock }) });
    for (let i = 0; i < 10_000; i++) breakers.get(`k${i}`);
    expect(breakers.size).toBe(1_000);
  });

  it('forgets the state of an evicted key (documented): it comes back closed', async () => {
    const clock = new FakeClock();
    const breakers = keyedBreakers({ maxKeys: 2, create: () => ({ clock, consecutiveFailures: 1 }) });
    await expect(breakers.execute('flaky', boom)).rejects.toThrow('boom');
    expect(breakers.get('flaky').state).toBe('open');
    breakers.get('x');
    breakers.get('y'); // evicts flaky
    expect(breakers.get('flaky').state).toBe('closed');
  });

  it('validates its options', () => {
    const message = (f: () => unknown): string => {
      try {
        f();
      } catch (error) {
        expect(isInvalidOptionError(error)).toBe(true);
        return (error as Error).message;
      }
      return 'did not throw';
    };
    expect(message(() => keyedBreakers(undefined as never))).toBe('keyedBreakers: expects an options object { create, maxKeys? }');
    expect(message(() => keyedBreakers({ create: () => ({}), maxKeys: 0 }))).toBe('keyedBreakers.maxKeys: should be a positive integer, got 0');
    expect(message(() => keyedBreakers({ create: 'x' as never }))).toBe(
      'keyedBreakers.create: should be a function (key) => CircuitBreakerOptions | CircuitBreaker, got "x"',
    );
    const bad = keyedBreakers({ create: () => null as never });
    expect(message(() => bad.get('k'))).toBe('keyedBreakers.create: should return CircuitBreakerOptions or a CircuitBreaker, got null for key "k"');
    const invalid = keyedBreakers({ create: () => ({ halfOpenProbes: 0 }) });
    expect(message(() => invalid.get('k'))).toBe('circuitBreaker.halfOpenProbes: should be a positive integer, got 0');
    expect(invalid.size).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { CoarseTime, systemCoarseTime } from '../src/clock/coarse-time.js';
import { circuitBreaker } from '../src/resilience/index.js';
import { FakeClock } from './support/fake-clock.js';

/** A fake clock that counts its reads. */
class CountingClock extends FakeClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

describe('CoarseTime', () => {
  it('reads the clock once per tick while in use, and holds no timer once idle', () => {
    const clock = new CountingClock(1_000);
    const coarse = new CoarseTime(clock, 10);
    expect(coarse.active).toBe(false);
    expect(coarse.now()).toBe(1_000);
    expect(clock.reads).toBe(1);
    expect(coarse.active).toBe(true);

    clock.advance(4);
    for (let i = 0; i < 100; i++) expect(coarse.now()).toBe(1_000); // within the tick: the cached value
    expect(clock.reads).toBe(1);

    clock.advance(6); // the tick: stale from now on
    expect(coarse.now()).toBe(1_010);
    expect(clock.reads).toBe(2);

    // Read during every tick: the timer keeps going.
    for (let t = 0; t < 5; t++) {
      clock.advance(10);
      coarse.now();
    }
    expect(coarse.active).toBe(true);
    // No read for a whole tick: the next tick stops the timer.
    clock.advance(10);
    clock.advance(10);
    expect(coarse.active).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('is never older than one tick while the clock moves and it is read', () => {
    const clock = new FakeClock(0);
    const coarse = new CoarseTime(clock, 10);
    // Irregular steps of 0..7 ms (a fixed sequence), reading after each.
    const steps = [3, 0, 7, 1, 5, 5, 2, 6, 0, 4, 7, 7, 1, 3, 2];
    for (let round = 0; round < 20; round++) {
      for (const step of steps) {
        clock.advance(step);
        const reading = coarse.now();
        expect(reading).toBeLessThanOrEqual(clock.now());
        expect(clock.now() - reading).toBeLessThan(10);
      }
    }
  });

  it('reads the clock afresh after an idle period, however long', () => {
    const clock = new FakeClock(0);
    const coarse = new CoarseTime(clock, 10);
    coarse.now();
    clock.advance(600_000);
    expect(coarse.now()).toBe(600_000);
  });

  it('the system reading is shared by every breaker and lags the real clock by little', async () => {
    const shared = systemCoarseTime();
    expect(systemCoarseTime()).toBe(shared);
    const breaker = circuitBreaker({ name: 'coarse' });
    for (let i = 0; i < 20; i++) await breaker.execute(async () => i);
    expect(breaker.state).toBe('closed');
    expect(shared.active).toBe(true);
    expect(shared.now()).toBeLessThanOrEqual(performance.timeOrigin + performance.now());
  });
});

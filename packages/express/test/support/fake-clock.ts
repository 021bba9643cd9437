import type { Clock, TimerHandle } from '@hitch/core';

/** A manual clock: time moves only when a test calls `advance` (adapted from @hitch/core's tests). */
export class FakeClock implements Clock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(startMs = 1_700_000_000_000) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in order (bounded so a runaway timer cannot hang a test). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let fired = 0; fired < 100_000; fired++) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, timer] of this.timers) if (timer.at <= end && timer.at < nextAt) [nextId, nextAt] = [id, timer.at];
      if (nextId === undefined) break;
      const timer = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.time = nextAt;
      timer.fn();
    }
    this.time = end;
  }
}

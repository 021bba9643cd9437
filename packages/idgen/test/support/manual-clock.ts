/**
 * A clock the test moves by hand. `advancePerRead` moves it on every read (by default not at
 * all: a frozen clock), so a generator waiting for the next millisecond sees time pass.
 */
export class ManualClock {
  /** The value the last `now()` returned. */
  lastRead = NaN;
  reads = 0;

  constructor(
    public time: number,
    public advancePerRead = 0,
  ) {}

  now(): number {
    this.reads++;
    this.lastRead = this.time;
    this.time += this.advancePerRead;
    return this.lastRead;
  }

  /** Timers never fire: the generator sets none; Hitch only needs the methods to exist. */
  setTimeout(): unknown {
    return undefined;
  }

  clearTimeout(): void {}

  advance(ms: number): void {
    this.time += ms;
  }

  set(time: number): void {
    this.time = time;
  }
}

/** 2025-06-01T00:00:00Z: comfortably after the default epoch. */
export const T0 = Date.UTC(2025, 5, 1);

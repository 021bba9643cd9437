/**
 * Reusable AbortSignals for work that nothing will abort (the caller passed no signal, there is
 * no timeout or deadline), which must still get a signal of its own: user code may add listeners.
 *
 * Creating an AbortSignal costs several microseconds on Node 20, more than everything else a
 * closed breaker does per call. A signal goes back to the pool only once its call has
 * settled and nothing is left on it: no event listener (Node keeps them in a map under its
 * internal `kEvents` key) and no signal derived by `AbortSignal.any()` (which, on Node 20, stays
 * referenced from its source under `kDependantSignals` until the source aborts: pooling such a
 * signal would grow that set call after call). Nothing of one call can therefore reach another,
 * and pooled signals are never aborted. Where those internals cannot be found, nothing is
 * pooled: every call gets a new signal.
 *
 * One pool per policy, so policies share nothing. A pool only grows to its policy's peak number
 * of calls in flight (a signal returns when its call ends), so its size is memory the process
 * already used at that peak; {@link MAX_POOLED_SIGNALS} covers typical server concurrency.
 */
export class SignalPool {
  private readonly signals: AbortSignal[] = [];

  /** A signal no running call holds. */
  take(): AbortSignal {
    return this.signals.pop() ?? new AbortController().signal;
  }

  /** Returns the signal of a settled call, unless something of that call is still attached to it. */
  release(signal: AbortSignal): void {
    if (internals === undefined) internals = findSignalInternals();
    if (internals === null || this.signals.length >= MAX_POOLED_SIGNALS) return;
    const fields = signal as unknown as Record<symbol, Sized>;
    const events = fields[internals.events];
    const dependants = fields[internals.dependants];
    if (events !== undefined && events.size === 0 && (dependants === undefined || dependants.size === 0)) this.signals.push(signal);
  }
}

export const MAX_POOLED_SIGNALS = 128;

interface SignalInternals {
  readonly events: symbol;
  readonly dependants: symbol;
}
type Sized = { readonly size?: unknown } | undefined;

// A cache of where this Node version keeps two fields; the same for every pool in the process.
/** `undefined`: not looked for yet; `null`: not found, never pool. */
let internals: SignalInternals | null | undefined;

function findSignalInternals(): SignalInternals | null {
  if (typeof AbortSignal.any !== 'function') return null;
  const probe = new AbortController().signal;
  const find = (description: string, size: number): symbol | undefined => {
    for (const key of Object.getOwnPropertySymbols(probe)) {
      // Node's internal SafeMap / SafeSet, which are not `instanceof` Map / Set.
      const value = (probe as unknown as Record<symbol, Sized>)[key];
      if (key.description === description && typeof value === 'object' && value.size === size) return key;
    }
    return undefined;
  };
  const listener = (): void => undefined;
  probe.addEventListener('abort', listener);
  const events = find('kEvents', 1);
  probe.removeEventListener('abort', listener);
  AbortSignal.any([probe]);
  const dependants = find('kDependantSignals', 1);
  if (events === undefined || dependants === undefined || find('kEvents', 0) !== events) return null;
  return { events, dependants };
}

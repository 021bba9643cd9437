// Small promise helpers shared by the tests of asynchronous code (policies, runners, lifecycle).

/** Lets the event loop turn once, so that promise callbacks and microtasks run. */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Lets the event loop turn several times: for chains of promises. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await flush();
}

/** Never settles: work that ignores its signal, or a hung call. */
export const never = (): Promise<never> => new Promise<never>(() => undefined);

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A promise the test settles by hand. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Watches a promise without awaiting it, so a test can assert whether (and how) it settled. */
export function track<T>(promise: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

// Child processes for the side-by-side benchmarks (servers under test, load generators) and the
// statistics of their rounds, shared by the HTTP and gRPC benchmarks. Every child is forked with an
// IPC channel, tracked, and killed when this process exits for any reason (a child also exits by
// itself when the channel closes).

import { fork } from 'node:child_process';

const children = new Set();

/** Kills every child still running (SIGKILL: synchronous, safe in an 'exit' listener). */
export function killChildren() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
}
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killChildren();
    process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[signal] ?? 0));
  });
}

/** A forked child with request/answer over IPC, its output prefixed on our stderr and kept for errors. */
export class Child {
  #nextId = 1;
  #tail = '';

  /** `env`: the environment of the child (the benchmarks strip OTEL_* variables and the like). */
  constructor(name, script, args, execArgv, env) {
    this.name = name;
    this.process = fork(script, args, { execArgv, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    children.add(this.process);
    this.process.once('exit', () => children.delete(this.process));
    for (const stream of [this.process.stdout, this.process.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        this.#tail = (this.#tail + chunk).slice(-4000);
        for (const line of chunk.split('\n')) if (line !== '') process.stderr.write(`  [${name}] ${line}\n`);
      });
    }
  }

  /** Resolves with the first message of `type` (or rejects on an error message, exit or timeout). */
  waitFor(type, timeoutMs, id) {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.process.off('message', onMessage);
        this.process.off('exit', onExit);
      };
      const onMessage = (message) => {
        if (id !== undefined && message?.id !== id) return;
        if (message?.type === 'error') {
          cleanup();
          reject(new Error(`${this.name}: ${message.message}`));
        } else if (message?.type === type) {
          cleanup();
          resolve(message);
        }
      };
      const onExit = (code, signal) => {
        cleanup();
        reject(new Error(`${this.name} exited (${signal ?? code}) while we waited for '${type}'${this.#tail === '' ? '' : `; its last output:\n${this.#tail}`}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.process.on('message', onMessage);
      this.process.once('exit', onExit);
    });
  }

  request(message, answerType, timeoutMs) {
    const id = this.#nextId++;
    const answer = this.waitFor(answerType, timeoutMs, id);
    this.process.send({ ...message, id });
    return answer;
  }

  /** Asks the child to exit, then kills it if it has not within `timeoutMs`. */
  async stop(timeoutMs = 5_000) {
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.connected) child.send({ type: 'exit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

/** A server under test: started, listening, its port known. `nodeArgs`: e.g. `--cpu-prof`. */

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median, minimum and maximum of `values`. */
export function summary(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Seeded Fisher–Yates shuffle, in place. */
export function shuffle(array, random) {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [array[i], array[j]] = [array[j], array[i]];
  }
  return array;
}

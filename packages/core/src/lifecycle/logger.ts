/**
 * Where the lifecycle logs each step of a shutdown. A pino logger fits as is
 * (`logger.info({ hook: 'db' }, 'message')`); so does anything with these three methods.
 */
export interface LifecycleLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The logger used when none is given: one JSON line per entry on stderr, written synchronously
 * (stderr is synchronous for files, TTYs and, on Linux, pipes), so the last lines survive `process.exit`.
 */
export const stderrLogger: LifecycleLogger = {
  info: (obj, msg) => write('info', obj, msg),
  warn: (obj, msg) => write('warn', obj, msg),
  error: (obj, msg) => write('error', obj, msg),
};

function write(level: string, obj: object, msg: string): void {
  let line: string;
  try {
    line = JSON.stringify({ level, time: new Date().toISOString(), ...obj, msg }, (_key, value: unknown) =>
      value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value,
    );
  } catch {
    line = JSON.stringify({ level, time: new Date().toISOString(), msg });
  }
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // Logging must never break a shutdown.
  }
}

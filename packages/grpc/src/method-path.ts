/** `/package.Service/Method` split into the service (`package.Service`) and the method (`Method`). */
export interface MethodName {
  /** `package.Service/Method`: the span name and `rpc.method`. */
  readonly full: string;
  readonly service: string;
  readonly method: string;
}

const cache = new Map<string, MethodName>();
/** Paths come from registered services and client stubs, a bounded set; the cache is a guard, not a limit. */
const MAX_CACHED = 10_000;

export function methodName(path: string): MethodName {
  let name = cache.get(path);
  if (name !== undefined) return name;
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  const slash = trimmed.lastIndexOf('/');
  name =
    slash === -1
      ? { full: trimmed, service: 'unknown', method: trimmed }
      : { full: trimmed, service: trimmed.slice(0, slash), method: trimmed.slice(slash + 1) };
  if (cache.size < MAX_CACHED) cache.set(path, name);
  return name;
}

// Route templates (`/v1/rides/:id`) for spans and metrics, never the raw path.
//
// Express tells a handler which Route matched (`req.route`, whose `path` is the template within
// its router) but not the templates of the routers it is mounted under (`req.baseUrl` is the
// matched text, e.g. `/users/42`). The full template is found once per Route by walking the
// app's router tree down to it, reading each mount's template from the layer: `rawPath` on
// router >= 2.3 (Express 5), or what Hitch recorded when the router was mounted through an
// instrumented `use` (Express 4, older Express 5). The result is cached per Route object, so a
// request pays one WeakMap lookup.

/** The value of the `route` label, and the span name suffix, for a request no route matched. */
export const UNMATCHED_ROUTE = '__unmatched__';

type PathSpec = string | RegExp | readonly PathSpec[];

/** What Hitch reads of an Express Route. */
interface RouteLike {
  readonly path: PathSpec;
}
/** What Hitch reads of a router layer. */
export interface LayerLike {
  readonly route?: RouteLike;
  readonly handle?: unknown;
  readonly rawPath?: PathSpec;
  /** Express 4 layers mounted at `/`. */
  readonly regexp?: { readonly fast_slash?: boolean };
}
interface RouterLike {
  readonly stack: readonly LayerLike[];
  use: (...args: unknown[]) => unknown;
}

/** Mount templates of layers added through an instrumented `use`. */
const mountTemplates = new WeakMap<object, string>();
/** Routers whose `use` is instrumented. */
const instrumented = new WeakSet<object>();

function isRouter(value: unknown): value is RouterLike {
  return typeof value === 'function' && Array.isArray((value as { stack?: unknown }).stack) && typeof (value as { use?: unknown }).use === 'function';
}

function pathText(spec: PathSpec | undefined): string | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec === 'string') return spec;
  if (spec instanceof RegExp) return spec.toString();
  // Several paths for one layer: which one matched is not kept; name them all (still one bounded value).
  return spec.map((s) => pathText(s) ?? '').join('|');
}

/**
 * Wraps `router.use` (on this router object only, not its class) so that the template of every
 * router mounted from now on is remembered, and routers mounted through it are instrumented in
 * turn. Idempotent.
 */
export function instrumentRouter(router: unknown): void {
  if (!isRouter(router) || instrumented.has(router)) return;
  instrumented.add(router);
  const originalUse = router.use;
  const stack = router.stack as LayerLike[];
  const use = function (this: unknown, ...args: unknown[]): unknown {
    const before = stack.length;
    const result = originalUse.apply(this, args);
    const first = args[0];
    const template = typeof first === 'function' ? '/' : pathText(first as PathSpec);
    for (let i = before; i < stack.length; i++) {
      const layer = stack[i] as object;
      if (template !== undefined) mountTemplates.set(layer, template);
      instrumentRouter((layer as LayerLike).handle);
    }
    return result;
  };
  Object.defineProperty(router, 'use', { value: use, writable: true, configurable: true, enumerable: false });
  // Routers already mounted in this one: instrument their future mounts too.
  for (const layer of stack) instrumentRouter(layer.handle);
}

/** `a` + `b`, one slash between them, no trailing slash (except for the root `/`). */
export function joinTemplate(prefix: string, path: string): string {
  const left = prefix === '/' ? '' : prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  let right = path === '/' ? '' : path;
  if (right !== '' && !right.startsWith('/') && !right.startsWith('|')) right = `/${right}`;
  const joined = left + right;
  return joined === '' ? '/' : joined;
}

function mountTemplateOf(layer: LayerLike): string | undefined {
  const raw = pathText(layer.rawPath);
  if (raw !== undefined) return raw;
  const recorded = mountTemplates.get(layer as object);
  if (recorded !== undefined) return recorded;
  if (layer.regexp?.fast_slash === true) return '/';
  return undefined;
}

/** A place where a Route is mounted: the full template, and whether a mount's template was not known. */
interface Placement {
  readonly template: string;
  /** The literal start of the template (up to the first parameter), to choose among several placements. */
  readonly literalPrefix: string;
}

const MAX_DEPTH = 32;

function findPlacements(stack: readonly LayerLike[], route: RouteLike, prefix: string, depth: number, seen: Set<object>, out: Placement[]): void {
  if (depth > MAX_DEPTH) return;
  for (const layer of stack) {
    if (layer.route === route) {
      const template = joinTemplate(prefix, pathText(route.path) ?? '');
      const cut = template.search(/[:*{(|]/);
      out.push({ template, literalPrefix: cut === -1 ? template : template.slice(0, cut) });
    } else if (isRouter(layer.handle) && !seen.has(layer.handle)) {
      seen.add(layer.handle);
      // A mount whose template is unknown (mounted before instrumentation, on an old router)
      // contributes nothing rather than a raw path: the route stays bounded.
      findPlacements(layer.handle.stack, route, joinTemplate(prefix, mountTemplateOf(layer) ?? '/'), depth + 1, seen, out);
      seen.delete(layer.handle);
    }
  }
}

/** Resolves and caches the full templates of routes of one app. */
export class RouteResolver {
  private readonly cache = new WeakMap<object, readonly Placement[]>();

  /** @param rootStack returns the app's root router stack (created lazily by Express). */
  constructor(private readonly rootStack: () => readonly LayerLike[] | undefined) {}

  /**
   * The full template of the route that handled `req`, or `undefined` when no route did.
   * `path` (the request path) picks among several mounts of the same router.
   */
  resolve(route: unknown, path: string): string | undefined {
    if (typeof route !== 'object' || route === null) return undefined;
    let placements = this.cache.get(route);
    if (placements === undefined) {
      const found: Placement[] = [];
      const stack = this.rootStack();
      if (stack !== undefined) findPlacements(stack, route as RouteLike, '', 0, new Set(), found);
      // Not in this app's tree (a mounted sub-app): the route's own template.
      if (found.length === 0) {
        const own = joinTemplate('', pathText((route as RouteLike).path) ?? '');
        found.push({ template: own, literalPrefix: own });
      }
      placements = found;
      this.cache.set(route, placements);
    }
    if (placements.length === 1) return placements[0]!.template;
    let best: Placement | undefined;
    for (const p of placements) if (path.startsWith(p.literalPrefix) && (best === undefined || p.literalPrefix.length > best.literalPrefix.length)) best = p;
    return (best ?? placements[0]!).template;
  }
}

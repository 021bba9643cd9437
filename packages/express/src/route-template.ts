// Route templates (`/v1/rides/:id`) for spans and metrics, never the raw path.
//
// Express tells a handler which Route matched (`req.route`, whose `path` is the template within
// its router) but not the templates of the routers it is mounted under (`req.baseUrl` is the
// matched text, e.g. `/users/42`). The full template is found once per Route by walking the
// app's router tree down to it, reading each mount's template from the layer: `rawPath` on
// router >= 2.3 (Express 5), or what Hitch recorded when the router was mounted through an
// instrumented `use` (Express 4, older Express 5), or else, on Express 4, what its compiled
// regular expression says. The result is cached per Route object until the next mount, so a
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
  /** Express 4: the compiled path (`fast_slash` when mounted at `/`) and its parameter names. */
  readonly regexp?: { readonly fast_slash?: boolean; readonly source?: unknown };
  readonly keys?: readonly { readonly name?: unknown; readonly optional?: unknown }[];
}
interface RouterLike {
  readonly stack: readonly LayerLike[];
  use: (...args: unknown[]) => unknown;
}

/** Mount templates of layers added through an instrumented `use`. */
const mountTemplates = new WeakMap<object, readonly string[]>();
/** Routers whose `use` is instrumented. */
const instrumented = new WeakSet<object>();
/** Bumped by every mount through an instrumented `use`: a route's placements may have changed. */
let mountGeneration = 0;

function isRouter(value: unknown): value is RouterLike {
  return typeof value === 'function' && Array.isArray((value as { stack?: unknown }).stack) && typeof (value as { use?: unknown }).use === 'function';
}

/** The paths of a layer (one, or several when given an array), as text; regular expressions as their source. */
function pathAlternatives(spec: PathSpec | undefined): string[] | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec === 'string') return [spec];
  if (spec instanceof RegExp) return [spec.toString()];
  return spec.flatMap((s) => pathAlternatives(s) ?? []);
}

function pathText(spec: PathSpec | undefined): string | undefined {
  return pathAlternatives(spec)?.join('|');
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
    mountGeneration++;
    const first = args[0];
    const template = typeof first === 'function' ? ['/'] : pathAlternatives(first as PathSpec);
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

// One parameter segment as Express 4's path-to-regexp 0.1 compiles `/:name` (and `/:name?`).
const EXPRESS4_PARAMETER = /^\(\?:\\\/\(\[\^\\?\/\]\+\?\)\)(\?)?/;
// Plain path characters, as they appear (unescaped) in the compiled source.
const EXPRESS4_LITERAL = /^[\w\-~%@!&',;=]+/;

/**
 * The template of an Express 4 mount, read back from the regular expression path-to-regexp 0.1
 * compiled it to (Express 4 keeps no path text on its layers): literal segments and `/:name`
 * parameters, the forms routers are mounted at. Anything else (custom captures, wildcards,
 * `-:name`) gives `undefined` rather than a guess.
 */
function express4MountTemplate(layer: LayerLike): string | undefined {
  const source = layer.regexp?.source;
  const keys = layer.keys ?? [];
  if (typeof source !== 'string' || !source.startsWith('^')) return undefined;
  // Non-ending, non-strict mounts end with an optional slash and a lookahead.
  let rest = source.slice(1).replace(/(?:\\\/\?)?(?:\(\?=\\\/\|\$\)|\(\?:\\\/\|\$\)|\$)?$/, '');
  let template = '';
  let key = 0;
  while (rest.length > 0) {
    const parameter = EXPRESS4_PARAMETER.exec(rest);
    if (parameter !== null) {
      const name = keys[key++]?.name;
      if (typeof name !== 'string') return undefined;
      template += `/:${name}${parameter[1] ?? ''}`;
      rest = rest.slice(parameter[0].length);
      continue;
    }
    if (rest.startsWith('\\/') || rest.startsWith('\\.')) {
      template += rest.charAt(1);
      rest = rest.slice(2);
      continue;
    }
    const literal = EXPRESS4_LITERAL.exec(rest);
    if (literal === null) return undefined;
    template += literal[0];
    rest = rest.slice(literal[0].length);
  }
  if (key !== keys.length) return undefined;
  return template === '' ? '/' : template;
}

/** The paths a router is mounted at by this layer (several for `use([a, b], router)`). */
function mountTemplatesOf(layer: LayerLike): readonly string[] | undefined {
  const raw = pathAlternatives(layer.rawPath);
  if (raw !== undefined && raw.length > 0) return raw;
  const recorded = mountTemplates.get(layer as object);
  if (recorded !== undefined) return recorded;
  if (layer.regexp?.fast_slash === true) return ['/'];
  // Express 4, mounted before Hitch could record it (a router built before it was mounted).
  const derived = express4MountTemplate(layer);
  return derived === undefined ? undefined : [derived];
}

/** A place where a Route is mounted: the full template, and whether a mount's template was not known. */
interface Placement {
  readonly template: string;
  /** The literal start of the template (up to the first parameter), to choose among several placements. */
  readonly literalPrefix: string;
}

const MAX_DEPTH = 32;
/** Placements kept per Route: a router mounted at many paths, many times over, stays cheap to search. */
const MAX_PLACEMENTS = 64;

/** The literal start of a template, up to its first parameter, wildcard, group or regular expression. */
function literalPrefixOf(template: string): string {
  const cut = template.search(/[:*{(|^$\\[?+]/);
  return cut === -1 ? template : template.slice(0, cut);
}

function commonPrefix(texts: readonly string[]): string {
  let prefix = texts[0] ?? '';
  for (const text of texts) while (!text.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

function findPlacements(stack: readonly LayerLike[], route: RouteLike, prefix: string, depth: number, seen: Set<object>, out: Placement[]): void {
  if (depth > MAX_DEPTH) return;
  for (const layer of stack) {
    if (out.length >= MAX_PLACEMENTS) return;
    if (layer.route === route) {
      // Several paths for one route: which one matched is not kept; name them all, each under
      // the mount's prefix (still one bounded value).
      const alternatives = (pathAlternatives(route.path) ?? ['']).map((path) => joinTemplate(prefix, path));
      out.push({ template: alternatives.join('|'), literalPrefix: commonPrefix(alternatives.map(literalPrefixOf)) });
    } else if (isRouter(layer.handle) && !seen.has(layer.handle)) {
      seen.add(layer.handle);
      // A mount whose template is unknown (mounted before instrumentation, on an old router)
      // contributes nothing rather than a raw path: the route stays bounded. A router mounted at
      // several paths at once is placed under each, as if it were mounted several times.
      for (const mount of mountTemplatesOf(layer) ?? ['/']) findPlacements(layer.handle.stack, route, joinTemplate(prefix, mount), depth + 1, seen, out);
      seen.delete(layer.handle);
    }
  }
}

/** Resolves and caches the full templates of routes of one app. */
export class RouteResolver {
  private readonly cache = new WeakMap<object, { readonly generation: number; readonly placements: readonly Placement[] }>();

  /** @param rootStack returns the app's root router stack (created lazily by Express). */
  constructor(private readonly rootStack: () => readonly LayerLike[] | undefined) {}

  /**
   * The full template of the route that handled `req`, or `undefined` when no route did.
   * `path` (the request path) picks among several mounts of the same router.
   */
  resolve(route: unknown, path: string): string | undefined {
    if (typeof route !== 'object' || route === null) return undefined;
    const cached = this.cache.get(route);
    let placements = cached?.placements;
    // Recomputed after a router was mounted somewhere since (rare once the app serves).
    if (placements === undefined || cached?.generation !== mountGeneration) {
      const found: Placement[] = [];
      const stack = this.rootStack();
      if (stack !== undefined) findPlacements(stack, route as RouteLike, '', 0, new Set(), found);
      // Not in this app's tree (a mounted sub-app): the route's own template.
      if (found.length === 0) {
        const own = joinTemplate('', pathText((route as RouteLike).path) ?? '');
        found.push({ template: own, literalPrefix: own });
      }
      placements = found;
      this.cache.set(route, { generation: mountGeneration, placements });
    }
    if (placements.length === 1) return placements[0]!.template;
    // Express matches paths case-insensitively by default.
    const lowerPath = path.toLowerCase();
    let best: Placement | undefined;
    for (const p of placements) if (lowerPath.startsWith(p.literalPrefix.toLowerCase()) && (best === undefined || p.literalPrefix.length > best.literalPrefix.length)) best = p;
    return (best ?? placements[0]!).template;
  }
}

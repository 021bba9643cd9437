import type { MetricType } from '../naming/index.js';
import type { InstrumentContext, SeriesSink } from './internal-types.js';
import { LabelPolicy, OVERFLOW_VALUE } from './label-policy.js';
import { Series } from './series.js';
import type { InvalidObservationReason, LabelDeclaration } from './types.js';
import { InvalidObservationReason as Reason, MetricsWarningCode } from './types.js';

/** The `label` value counted in the overflow metric when `maxSeries` is hit. */
export const SERIES_OVERFLOW_LABEL = '__series__';

type Node = Map<string, Node | Series>;

/** Why a bound handle cannot write. */
export interface InvalidBinding {
  readonly reason: InvalidObservationReason;
  readonly message: string;
}

export function isValues(binding: readonly string[] | InvalidBinding): binding is readonly string[] {
  return Array.isArray(binding);
}

/** Everything fixed at registration. */
export interface InstrumentDefinition {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labels: ReadonlyArray<readonly [string, LabelDeclaration]>;
  readonly maxSeries: number;
  readonly expireAfterMs: number | undefined;
  /** Histogram upper bounds without +Inf; empty for other types. */
  readonly buckets: readonly number[];
  readonly exemplars: boolean;
  readonly defaultLabels: Readonly<Record<string, string>>;
  readonly collect: (() => void) | undefined;
}

/** Creates the backend forwarding for one series. */
export type SinkFactory = (attributes: Readonly<Record<string, string>>) => SeriesSink | null;

/**
 * The bounded series table behind every metric: resolves label values to a {@link Series},
 * applies allow-lists, `maxValues` and `maxSeries`, expires idle series, and reports what it
 * drops. Never throws on the hot path.
 */
export class Instrument {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
  readonly definition: InstrumentDefinition;
  /** True when `expireAfterMs` is set: writes then stamp the series with the clock. */
  readonly stamps: boolean;
  protected readonly context: InstrumentContext;
  private readonly policies: readonly LabelPolicy[];
  private readonly labelCount: number;
  private readonly root: Node = new Map();
  private readonly all = new Set<Series>();
  private overflowSeries: Series | undefined;
  private sinkFactory: SinkFactory = () => null;
  private warnedInvalid = false;
  private warnedOverflow = false;
  /** The single series of a metric without labels. */
  private solo: Series | undefined;

  constructor(definition: InstrumentDefinition, context: InstrumentContext) {
    this.definition = definition;
    this.name = definition.name;
    this.help = definition.help;
    this.type = definition.type;
    this.buckets = definition.buckets;
    this.labelNames = definition.labels.map(([name]) => name);
    this.policies = definition.labels.map(([name, declaration]) => new LabelPolicy(name, declaration));
    this.labelCount = this.labelNames.length;
    this.stamps = definition.expireAfterMs !== undefined;
    this.context = context;
  }

  /** Called once by the backend before the first write. */
  attachSinkFactory(factory: SinkFactory): void {
    this.sinkFactory = factory;
  }

  get seriesCount(): number {
    return this.all.size;
  }

  /** Live series, in creation order. */
  series(): IterableIterator<Series> {
    return this.all.values();
  }

  /**
   * The series for `labels`, or undefined when the observation must be dropped (missing,
   * extra or non-scalar labels), in which case it has been counted and warned about.
   */
  resolve(labels: unknown): Series | undefined {
    const count = this.labelCount;
    if (count === 0) {
      if (labels !== undefined && labels !== null && (typeof labels !== 'object' || hasAnyKey(labels))) {
        this.invalid(Reason.UnknownLabel, `metric "${this.name}" declares no labels; got ${describe(labels)}`);
        return undefined;
      }
      return this.solo ?? this.createSolo();
    }
    if (typeof labels !== 'object' || labels === null) {
      this.invalid(Reason.MissingLabel, `metric "${this.name}" needs labels {${this.labelNames.join(', ')}}; got ${describe(labels)}`);
      return undefined;
    }
    const record = labels as Record<string, unknown>;
    let node: Node | Series = this.root;
    let present = 0;
    for (let i = 0; i < count; i++) {
      const name = this.labelNames[i] as string;
      const raw = record[name];
      let value: string;
      if (typeof raw === 'string') value = raw;
      else if (typeof raw === 'number' || typeof raw === 'boolean') value = String(raw);
      else if (raw === undefined) {
        this.invalid(Reason.MissingLabel, `metric "${this.name}": label "${name}" is missing`);
        return undefined;
      } else {
        this.invalid(Reason.InvalidLabelValue, `metric "${this.name}": label "${name}" must be a string, number or boolean`);
        return undefined;
      }
      present++;
      const child: Node | Series | undefined = (node as Node).get(value);
      if (child === undefined) return this.resolveSlow(record);
      node = child;
    }
    if (present !== countKeys(record)) {
      this.invalid(Reason.UnknownLabel, `metric "${this.name}" got labels it does not declare: ${this.extraKeys(record)}`);
      return undefined;
    }
    return node as Series;
  }

  /** The slow path: some value is new at its level. Applies bounds and creates the series. */
  private resolveSlow(record: Record<string, unknown>): Series | undefined {
    // Validate every label and the key set before creating anything.
    const binding = this.bindingFor(record);
    if (!isValues(binding)) {
      this.invalid(binding.reason, binding.message);
      return undefined;
    }
    return this.seriesForValues(binding);
  }


  /** Resolves already-validated raw values (bind, reattach). Applies bounds. */
  seriesForValues(values: readonly string[]): Series {
    if (this.labelCount === 0) return this.solo !== undefined && !this.solo.detached ? this.solo : this.createSolo();
    let node: Node = this.root;
    const path: string[] = new Array<string>(this.labelCount);
    for (let i = 0; i < this.labelCount; i++) {
      let value = values[i] as string;
      let child = node.get(value);
      if (child === undefined) {
        const policy = this.policies[i] as LabelPolicy;
        const admitted = policy.admit(value);
        if (admitted !== value) {
          this.overflow(policy.name, value);
          value = admitted;
          child = node.get(value);
        }
      }
      path[i] = value;
      if (i === this.labelCount - 1) {
        if (child !== undefined) return child as Series;
      } else {
        if (child === undefined) {
          if (this.all.size >= this.definition.maxSeries) return this.seriesOverflow();
          child = new Map();
          node.set(value, child);
        }
        node = child as Node;
      }
    }
    if (this.all.size >= this.definition.maxSeries) {
      this.pruneEmpty(path);
      return this.seriesOverflow();
    }
    const series = this.createSeries(path);
    node.set(path[this.labelCount - 1] as string, series);
    for (let i = 0; i < this.labelCount; i++) (this.policies[i] as LabelPolicy).retain(path[i] as string);
    return series;
  }

  /**
   * The raw label values of `record` in declared order, for `bind()`; or why every write through
   * the handle must be dropped. Nothing is counted here: each dropped write is, by {@link dropBound}.
   */
  bindingFor(record: unknown): readonly string[] | InvalidBinding {
    if (this.labelCount === 0) {
      if (record !== undefined && record !== null && (typeof record !== 'object' || hasAnyKey(record))) {
        return { reason: Reason.UnknownLabel, message: `metric "${this.name}" declares no labels; got ${describe(record)}` };
      }
      return [];
    }
    if (typeof record !== 'object' || record === null) {
      return { reason: Reason.MissingLabel, message: `metric "${this.name}" needs labels {${this.labelNames.join(', ')}}; got ${describe(record)}` };
    }
    const labels = record as Record<string, unknown>;
    const values: string[] = [];
    for (const name of this.labelNames) {
      const raw = labels[name];
      if (raw === undefined) return { reason: Reason.MissingLabel, message: `metric "${this.name}": label "${name}" is missing` };
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
        return { reason: Reason.InvalidLabelValue, message: `metric "${this.name}": label "${name}" must be a string, number or boolean` };
      }
      values.push(typeof raw === 'string' ? raw : String(raw));
    }
    if (countKeys(labels) !== this.labelCount) {
      return { reason: Reason.UnknownLabel, message: `metric "${this.name}" got labels it does not declare: ${this.extraKeys(labels)}` };
    }
    return values;
  }

  /** Counts (and warns once about) a write through a handle bound to invalid labels. */
  dropBound(binding: InvalidBinding): void {
    this.invalid(binding.reason, `${binding.message} (in bind())`);
  }

  /** Drops series not written for `expireAfterMs`; returns how many were dropped. */
  sweep(nowMs: number): number {
    const ttl = this.definition.expireAfterMs;
    if (ttl === undefined) return 0;
    let dropped = 0;
    for (const series of this.all) {
      if (nowMs - series.updatedAtMs < ttl) continue;
      this.drop(series);
      dropped++;
    }
    return dropped;
  }

  /** Removes every series (tests, `reset()`). */
  clear(): void {
    for (const series of [...this.all]) this.drop(series);
  }

  /** The label record of an OpenTelemetry data point maps to a live series. */
  isLive(attributes: Readonly<Record<string, unknown>>): boolean {
    if (this.labelCount === 0) return this.solo !== undefined && !this.solo.detached;
    let node: Node | Series | undefined = this.root;
    for (const name of this.labelNames) {
      const value = attributes[name];
      if (typeof value !== 'string' || !(node instanceof Map)) return false;
      node = node.get(value);
      if (node === undefined) return false;
    }
    return node instanceof Series;
  }

  /** Runs the user's collect callback, never letting it throw into a scrape. */
  runCollect(): void {
    const collect = this.definition.collect;
    if (collect === undefined) return;
    try {
      collect();
    } catch (error) {
      this.context.reporter.warn(
        MetricsWarningCode.CollectFailed,
        this.name,
        `collect() of metric "${this.name}" threw; its previous values are exposed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  protected invalid(reason: InvalidObservationReason, message: string): void {
    this.context.reporter.invalid(this.name, reason);
    if (!this.warnedInvalid) {
      this.warnedInvalid = true;
      this.context.reporter.warn(
        MetricsWarningCode.InvalidObservation,
        this.name,
        `${message}; the observation was dropped and counted in hitch_metric_invalid_observations_total (warned once per metric)`,
      );
    }
  }

  /** Reports an invalid value (NaN, negative...) for this metric. */
  invalidValue(reason: InvalidObservationReason, value: unknown): void {
    this.invalid(reason, `metric "${this.name}" got the value ${typeof value === 'number' ? String(value) : `of type ${typeof value}`}`);
  }

  private overflow(label: string, value: string): void {
    this.context.reporter.overflow(this.name, label);
    if (!this.warnedOverflow) {
      this.warnedOverflow = true;
      const message =
        label === SERIES_OVERFLOW_LABEL
          ? `metric "${this.name}" reached maxSeries (${this.definition.maxSeries}); new label combinations are recorded with every label "${OVERFLOW_VALUE}"`
          : `metric "${this.name}": label "${label}" exceeded its bound (value "${truncate(value)}" and later new values are recorded as "${OVERFLOW_VALUE}"); raise maxValues or drop the label if it is an identifier`;
      this.context.reporter.warn(
        label === SERIES_OVERFLOW_LABEL ? MetricsWarningCode.SeriesOverflow : MetricsWarningCode.LabelOverflow,
        this.name,
        `${message} (warned once per metric)`,
      );
    }
  }

  private seriesOverflow(): Series {
    this.overflow(SERIES_OVERFLOW_LABEL, '');
    if (this.overflowSeries !== undefined && !this.overflowSeries.detached) return this.overflowSeries;
    const path = this.labelNames.map(() => OVERFLOW_VALUE);
    // The all-overflow series lives outside the tree so it never counts against maxSeries.
    const series = this.createSeries(path);
    this.overflowSeries = series;
    return series;
  }

  private createSolo(): Series {
    const series = this.createSeries([]);
    this.solo = series;
    return series;
  }

  private createSeries(path: readonly string[]): Series {
    const labels: Record<string, string> = {};
    for (let i = 0; i < path.length; i++) labels[this.labelNames[i] as string] = path[i] as string;
    Object.freeze(labels);
    const attributes = Object.freeze({ ...this.definition.defaultLabels, ...labels });
    const series = new Series(path, labels, attributes, this.buckets.length, this.sinkFactory(attributes));
    series.updatedAtMs = this.stamps ? this.context.clock.now() : 0;
    this.all.add(series);
    return series;
  }

  private drop(series: Series): void {
    if (!this.all.delete(series)) return;
    series.detached = true;
    if (series === this.solo) {
      this.solo = undefined;
      return;
    }
    if (series === this.overflowSeries) {
      this.overflowSeries = undefined;
      return;
    }
    const path = series.path;
    const last = this.labelCount - 1;
    let node: Node = this.root;
    const nodes: Node[] = [node];
    for (let i = 0; i < last; i++) {
      const child = node.get(path[i] as string);
      if (!(child instanceof Map)) return;
      node = child;
      nodes.push(node);
    }
    if (node.get(path[last] as string) === series) node.delete(path[last] as string);
    this.pruneUp(nodes, path);
    for (let i = 0; i < this.labelCount; i++) (this.policies[i] as LabelPolicy).release(path[i] as string);
  }

  private pruneEmpty(path: readonly string[]): void {
    const nodes: Node[] = [this.root];
    let node: Node = this.root;
    for (let i = 0; i < this.labelCount - 1; i++) {
      const child = node.get(path[i] as string);
      if (!(child instanceof Map)) return;
      node = child;
      nodes.push(node);
    }
    this.pruneUp(nodes, path);
  }

  private pruneUp(nodes: Node[], path: readonly string[]): void {
    for (let i = nodes.length - 1; i > 0; i--) {
      if ((nodes[i] as Node).size > 0) return;
      (nodes[i - 1] as Node).delete(path[i - 1] as string);
    }
  }

  private extraKeys(record: Record<string, unknown>): string {
    const extra: string[] = [];
    for (const key in record) if (!this.labelNames.includes(key)) extra.push(`"${truncate(key)}"`);
    return extra.length > 0 ? extra.join(', ') : '(none)';
  }
}

function countKeys(record: Record<string, unknown>): number {
  let n = 0;
  for (const key in record) if (record[key] !== undefined) n++;
  return n;
}

function hasAnyKey(value: object): boolean {
  for (const key in value) if ((value as Record<string, unknown>)[key] !== undefined) return true;
  return false;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

function truncate(value: string): string {
  return value.length > 64 ? `${value.slice(0, 61)}...` : value;
}

import type { LabelDeclaration } from './types.js';

/** The value a label takes when its bound is exceeded. */
export const OVERFLOW_VALUE = '__overflow__';

/** Longer label values are treated as overflow: the bound is on memory, not only on count. */
export const MAX_LABEL_VALUE_LENGTH = 256;

/**
 * Decides which values of one label are kept. Allow-list labels never change; `maxValues`
 * labels keep a reference count per value so values free up when their series expire.
 */
export class LabelPolicy {
  readonly name: string;
  private readonly allowed: ReadonlySet<string> | undefined;
  private readonly maxValues: number;
  private readonly live = new Map<string, number>();

  constructor(name: string, declaration: LabelDeclaration) {
    this.name = name;
    if ('values' in declaration) {
      this.allowed = new Set(declaration.values);
      this.maxValues = this.allowed.size;
    } else {
      this.allowed = undefined;
      this.maxValues = declaration.maxValues;
    }
  }

  /** The value to record for `value`: itself when within bounds, else {@link OVERFLOW_VALUE}. */
  admit(value: string): string {
    if (value.length > MAX_LABEL_VALUE_LENGTH) return OVERFLOW_VALUE;
    if (this.allowed !== undefined) return this.allowed.has(value) ? value : OVERFLOW_VALUE;
    if (this.live.has(value) || this.live.size < this.maxValues) return value;
    return OVERFLOW_VALUE;
  }

  /** A series using `value` was created. */
  retain(value: string): void {
    if (this.allowed !== undefined || value === OVERFLOW_VALUE) return;
    this.live.set(value, (this.live.get(value) ?? 0) + 1);
  }

  /** A series using `value` was dropped. */
  release(value: string): void {
    if (this.allowed !== undefined || value === OVERFLOW_VALUE) return;
    const count = this.live.get(value);
    if (count === undefined) return;
    if (count <= 1) this.live.delete(value);
    else this.live.set(value, count - 1);
  }

  /** Distinct live values (not counting overflow). */
  get size(): number {
    return this.allowed !== undefined ? this.allowed.size : this.live.size;
  }
}

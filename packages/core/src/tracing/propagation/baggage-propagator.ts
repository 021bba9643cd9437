import type { BaggageEntry, Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { baggageEntryMetadataFromString, propagation } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import type { BaggageMember } from './baggage.js';
import { parseBaggage, parseBaggageProperties, serializeBaggage, serializeBaggageProperties } from './baggage.js';

const BAGGAGE = 'baggage';
const NO_PROPERTIES: readonly never[] = Object.freeze([]);

/**
 * W3C Baggage as an OpenTelemetry `TextMapPropagator`:
 * `propagation.setGlobalPropagator(new HitchBaggagePropagator())`.
 *
 * Entries map to OpenTelemetry `Baggage` entries; a member's properties travel in
 * the entry's `metadata` as their wire form (`p1;p2=v%202`), made with
 * `baggageEntryMetadataFromString`, which is how OpenTelemetry's own propagators
 * carry them. Keys are unique in OpenTelemetry `Baggage`: when a header repeats a
 * key the last member wins, as in the OpenTelemetry SDKs (W3C Baggage leaves
 * deduplication to the implementation, #mutating-baggage).
 */
export class HitchBaggagePropagator implements TextMapPropagator<unknown> {
  /**
   * Writes the context's baggage as a `baggage` header. Entries whose key is not
   * a token are left out; metadata is read as a property list and invalid
   * properties are dropped one by one; limits are kept by dropping whole entries
   * (see `serializeBaggage`). Nothing is written for empty baggage or when tracing
   * is suppressed.
   */
  inject(context: Context, carrier: unknown, setter: TextMapSetter<unknown>): void {
    const baggage = propagation.getBaggage(context);
    if (baggage === undefined || isTracingSuppressed(context)) return;
    const entries = baggage.getAllEntries();
    if (entries.length === 0) return;
    const members: BaggageMember[] = [];
    for (const [key, entry] of entries) {
      const metadata = entry.metadata?.toString();
      members.push({
        key,
        value: entry.value,
        properties: metadata ? parseBaggageProperties(metadata) : NO_PROPERTIES,
      });
    }
    const header = serializeBaggage(members);
    if (header.length > 0) setter.set(carrier, BAGGAGE, header);
  }

  /**
   * Reads `baggage` (several values are one list) into OpenTelemetry `Baggage` on
   * the returned context, replacing any baggage there. Invalid members are skipped
   * individually; with no valid member the context is returned unchanged.
   */
  extract(context: Context, carrier: unknown, getter: TextMapGetter<unknown>): Context {
    const header = getter.get(carrier, BAGGAGE);
    if (header === undefined) return context;
    const members = parseBaggage(header);
    if (members.length === 0) return context;
    // A null-prototype record: `__proto__` is a valid token and must stay a key.
    const entries = Object.create(null) as Record<string, BaggageEntry>;
    for (const member of members) {
      entries[member.key] =
        member.properties.length === 0
          ? { value: member.value }
          : {
              value: member.value,
              metadata: baggageEntryMetadataFromString(serializeBaggageProperties(member.properties)),
            };
    }
    return propagation.setBaggage(context, propagation.createBaggage(entries));
  }

  /** The header this propagator reads and writes. */
  fields(): string[] {
    return [BAGGAGE];
  }
}

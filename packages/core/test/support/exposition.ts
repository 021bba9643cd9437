/** A sample parsed from an exposition, for assertions. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}

const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(labelPattern)) {
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Parses the sample lines of Prometheus text or OpenMetrics output (test helper, not a full parser). */
export function parseSamples(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)(?:\s+(\d+))?(?:\s+#\s+\{(.*?)\}\s+(\S+)(?:\s+(\S+))?)?$/.exec(line);
    if (!match) throw new Error(`unparseable sample line: ${line}`);
    const sample: Sample = { name: match[1]!, labels: match[2] ? parseLabels(match[2]) : {}, value: parseValue(match[3]!) };
    if (match[5] !== undefined) {
      sample.exemplar = { labels: parseLabels(match[5]), value: parseValue(match[6]!) };
      if (match[7] !== undefined) sample.exemplar.timestamp = Number(match[7]);
    }
    samples.push(sample);
  }
  return samples;
}

/** The value of the one sample matching `name` and every label in `labels` (others ignored). */
export function valueOf(body: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = parseSamples(body).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** All samples of a metric family. */
export function samplesOf(body: string, name: string): Sample[] {
  return parseSamples(body).filter((s) => s.name === name);
}

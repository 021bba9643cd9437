// CPU profile of one server configuration under the benchmark's load: where its time goes.
//
//   node bench/http/profile.mjs                         the Hitch server
//   node bench/http/profile.mjs --config=bare --duration=15 --warmup=5 --connections=50 --top=30
//   node bench/http/profile.mjs --baseline=bare         also profile bare Express, print the differences per request
//   node bench/http/profile.mjs --keep                  keep the .cpuprofile (its path is printed)
//
// The server runs with `node --cpu-prof` (written when it exits), autocannon in its own process as
// in run.mjs. Only the samples taken while the measured load ran count (the server reports its
// monotonic clock, the one V8's profile uses, at both ends); start-up and warm-up are left out.
// Prints self time by package, then the functions with the most self time (all, then those of
// @hitch/express, @hitch/core and @opentelemetry/*), then inclusive time of those packages' functions.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIGS, ridePaths } from './fixtures.mjs';
import { killChildren, startLoadGenerator, startServer } from './harness.mjs';

const args = process.argv.slice(2);
const stringArg = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const intArg = (name, fallback) => {
  const text = stringArg(name, undefined);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return value;
};
const config = CONFIGS.find((c) => c.id === stringArg('config', 'hitch'));
if (config === undefined) throw new Error(`--config must be one of ${CONFIGS.map((c) => c.id).join(', ')}`);
const seconds = intArg('duration', 15);
const warmupSeconds = intArg('warmup', 5);
const connections = intArg('connections', 50);
const top = intArg('top', 30);
const keep = args.includes('--keep');

/** The package a profile URL belongs to, for grouping. */
function categoryOf(callFrame) {
  const url = callFrame.url;
  if (url === '') return callFrame.functionName.startsWith('(') ? callFrame.functionName : '(native)';
  if (url.includes('/packages/express/dist/')) return '@hitch/express';
  if (url.includes('/packages/core/dist/')) return '@hitch/core';
  if (url.includes('/bench/http/')) return '(bench server)';
  if (url.startsWith('node:')) return '(node internals)';
  const match = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return match === null ? url : match[1];
}

/** A URL without the machine's directories: from `packages/` or the last `node_modules/`. */
function shortUrl(url) {
  const cut = url.lastIndexOf('node_modules/');
  if (cut !== -1) return url.slice(cut + 'node_modules/'.length);
  const packages = url.indexOf('/packages/');
  return packages === -1 ? url : url.slice(packages + 1);
}

function functionLabel(callFrame) {
  const where = callFrame.url === '' ? '' : ` ${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}`;
  return `${callFrame.functionName === '' ? '(anonymous)' : callFrame.functionName}${where}`;
}

const isOurs = (category) => category === '@hitch/express' || category === '@hitch/core' || category.startsWith('@opentelemetry/');

function analyse(profile, fromMicros, toMicros) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const self = new Map(); // function label -> { category, micros }
  const inclusive = new Map();
  const categories = new Map();
  let windowMicros = 0;
  let idleMicros = 0;
  let time = profile.startTime;
  const stamps = profile.timeDeltas.map((d) => (time += d));
  for (let i = 0; i < profile.samples.length - 1; i++) {
    if (stamps[i] < fromMicros || stamps[i] > toMicros) continue;
    const micros = stamps[i + 1] - stamps[i];
    windowMicros += micros;
    const node = byId.get(profile.samples[i]);
    const category = categoryOf(node.callFrame);
    if (category === '(idle)') {
      idleMicros += micros;
      continue;
    }
    categories.set(category, (categories.get(category) ?? 0) + micros);
    const label = functionLabel(node.callFrame);
    const entry = self.get(label) ?? { category, micros: 0 };
    entry.micros += micros;
    self.set(label, entry);
    // Inclusive: once per function on the stack, however deep the recursion.
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id).callFrame;
      const frameCategory = categoryOf(frame);
      if (!isOurs(frameCategory)) continue;
      const frameLabel = functionLabel(frame);
      if (seen.has(frameLabel)) continue;
      seen.add(frameLabel);
      const e = inclusive.get(frameLabel) ?? { category: frameCategory, micros: 0 };
      e.micros += micros;
      inclusive.set(frameLabel, e);
    }
  }
  return { self, inclusive, categories, windowMicros, busyMicros: windowMicros - idleMicros };
}

function print({ self, inclusive, categories, windowMicros, busyMicros }, served) {
  const msText = (micros) => (micros / 1000).toFixed(0).padStart(7);
  const share = (micros) => `${((micros / busyMicros) * 100).toFixed(1).padStart(5)}%`;
  const perRequest = (micros) => `${(micros / served).toFixed(1).padStart(6)} µs/req`;
  const line = (label, micros) => `  ${msText(micros)} ms ${share(micros)} ${perRequest(micros)}  ${label}`;
  const sorted = (map) => [...map].sort((a, b) => (b[1].micros ?? b[1]) - (a[1].micros ?? a[1]));
  const out = [];
  out.push(
    `\n${config.id}: ${(windowMicros / 1e6).toFixed(1)} s profiled under load, busy ${((busyMicros / windowMicros) * 100).toFixed(0)}% of the main thread, ` +
      `${served.toLocaleString('en-US')} requests served (${((busyMicros / served) | 0).toLocaleString('en-US')} µs of main-thread CPU per request)`,
  );
  out.push('', 'self time by package (% of busy time):');
  for (const [category, micros] of sorted(categories)) out.push(line(category, micros));
  out.push('', `top ${top} functions by self time:`);
  for (const [label, e] of sorted(self).slice(0, top)) out.push(line(`[${e.category}] ${label}`, e.micros));
  out.push('', `top ${top} functions by self time in @hitch/express, @hitch/core, @opentelemetry/*:`);
  for (const [label, e] of sorted(self).filter(([, e]) => isOurs(e.category)).slice(0, top)) out.push(line(`[${e.category}] ${label}`, e.micros));
  out.push('', `top ${top} functions of those packages by inclusive time (self + callees):`);
  for (const [label, e] of sorted(inclusive).slice(0, top)) out.push(line(`[${e.category}] ${label}`, e.micros));
  return out.join('\n');
}

/** `current` minus `baseline`, in µs per request, largest increases first. */
function diff(current, baseline) {
  const perRequest = (map, served) => new Map([...map].map(([k, v]) => [k, (v.micros ?? v) / served]));
  const a = perRequest(current.map, current.served);
  const b = perRequest(baseline.map, baseline.served);
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].map((k) => ({ key: k, current: a.get(k) ?? 0, baseline: b.get(k) ?? 0, delta: (a.get(k) ?? 0) - (b.get(k) ?? 0) })).sort((x, y) => y.delta - x.delta);
}

function printDiff(current, baseline) {
  const us = (v) => v.toFixed(1).padStart(7);
  const out = [];
  const total = current.analysis.busyMicros / current.served - baseline.analysis.busyMicros / baseline.served;
  out.push(
    `${current.config.id} against ${baseline.config.id}: ${us(current.analysis.busyMicros / current.served)} vs ${us(baseline.analysis.busyMicros / baseline.served)} µs of main-thread CPU per request (${total >= 0 ? '+' : ''}${total.toFixed(1)})`,
  );
  out.push('', `self time by package, µs/req (${current.config.id}, ${baseline.config.id}, difference):`);
  for (const d of diff({ map: current.analysis.categories, served: current.served }, { map: baseline.analysis.categories, served: baseline.served })) {
    if (Math.abs(d.delta) >= 0.5) out.push(`  ${us(d.current)} ${us(d.baseline)} ${us(d.delta)}  ${d.key}`);
  }
  out.push('', `functions whose self time grew most, µs/req (${current.config.id}, ${baseline.config.id}, difference):`);
  const functions = diff({ map: current.analysis.self, served: current.served }, { map: baseline.analysis.self, served: baseline.served });
  for (const d of functions.slice(0, top)) out.push(`  ${us(d.current)} ${us(d.baseline)} ${us(d.delta)}  [${current.analysis.self.get(d.key)?.category ?? baseline.analysis.self.get(d.key)?.category}] ${d.key}`);
  return out.join('\n');
}

/** Profiles `target` under load; its own profile directory, removed unless --keep. */
async function profileConfig(target, load) {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-express-cpu-prof-'));
  const server = await startServer(target, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  try {
    const paths = ridePaths(64);
    const run = (s) => load.run({ url: server.url, paths, seconds: s, connections, pipelining: 1 });
    process.stderr.write(`profiling ${target.id}: warm-up ${warmupSeconds} s, then ${seconds} s under load\n`);
    await run(warmupSeconds);
    const before = await server.stats();
    const result = await run(seconds);
    const after = await server.stats();
    if (result.errors + result.timeouts + result.non2xx > 0) throw new Error(`${target.id}: requests failed: ${JSON.stringify(result)}`);
    await server.stop();
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
    const file = join(dir, files[0]);
    const analysis = analyse(JSON.parse(readFileSync(file, 'utf8')), before.hrtimeMicros, after.hrtimeMicros);
    if (analysis.windowMicros === 0) throw new Error('no profile sample falls in the measured window (clock mismatch?)');
    return { config: target, analysis, result, served: after.served - before.served, file: keep ? file : undefined };
  } finally {
    await server.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

const baseline = args.some((a) => a.startsWith('--baseline=')) ? CONFIGS.find((c) => c.id === stringArg('baseline', '')) : undefined;
if (args.some((a) => a.startsWith('--baseline=')) && baseline === undefined) throw new Error(`--baseline must be one of ${CONFIGS.map((c) => c.id).join(', ')}`);

let load;
try {
  load = await startLoadGenerator();
  const profiled = [];
  for (const target of baseline === undefined ? [config] : [config, baseline]) profiled.push(await profileConfig(target, load));
  for (const p of profiled) {
    console.log(`${p.config.id}: ${Math.round(p.result.ok / p.result.seconds).toLocaleString('en-US')} req/s under the profiler, p50 ${p.result.latencyMs.p50} ms, p99 ${p.result.latencyMs.p99} ms`);
  }
  console.log(print(profiled[0].analysis, profiled[0].served));
  if (profiled[1] !== undefined) console.log(`\n${printDiff(profiled[0], profiled[1])}`);
  for (const p of profiled) if (p.file !== undefined) console.log(`\nprofile of ${p.config.id}: ${p.file}`);
} finally {
  await load?.stop();
  killChildren();
}

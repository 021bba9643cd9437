// CPU profiles of one configuration's server and client under the benchmark's load: where their
// time goes.
//
//   node bench/grpc/profile.mjs                         Hitch's server and client
//   node bench/grpc/profile.mjs --config=otel --duration=15 --warmup=5 --in-flight=64 --top=25
//   node bench/grpc/profile.mjs --baseline=bare         also profile bare grpc-js, print the differences per call
//   node bench/grpc/profile.mjs --keep                  keep the .cpuprofile files (their paths are printed)
//
// Both processes run with `node --cpu-prof` (written when they exit), as in run.mjs otherwise.
// Only the samples taken while the measured load ran count (each process's monotonic clock, the
// one V8's profile uses, at both ends); start-up and warm-up are left out. Prints, per process,
// self time by package, the functions with the most self time (all, then those of @hitch/grpc,
// @hitch/core and @opentelemetry/*), and inclusive time of those packages' functions.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configById } from './fixtures.mjs';
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
const config = configById(stringArg('config', 'hitch'));
const baseline = stringArg('baseline', undefined) === undefined ? undefined : configById(stringArg('baseline', undefined));
const seconds = intArg('duration', 15);
const warmupSeconds = intArg('warmup', 5);
const inFlight = intArg('in-flight', 64);
const top = intArg('top', 25);
const keep = args.includes('--keep');
const REQUEST_COUNT = 64;

/** The package a profile URL belongs to, for grouping. */
function categoryOf(callFrame) {
  const url = callFrame.url;
  if (url === '') return callFrame.functionName.startsWith('(') ? callFrame.functionName : '(native)';
  if (url.includes('/packages/grpc/dist/')) return '@hitch/grpc';
  if (url.includes('/packages/core/dist/')) return '@hitch/core';
  if (url.includes('/bench/grpc/')) return '(bench)';
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

const isOurs = (category) => category === '@hitch/grpc' || category === '@hitch/core' || category.startsWith('@opentelemetry/');

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

const sorted = (map) => [...map].sort((a, b) => (b[1].micros ?? b[1]) - (a[1].micros ?? a[1]));

function print(title, { self, inclusive, categories, windowMicros, busyMicros }, calls) {
  const msText = (micros) => (micros / 1000).toFixed(0).padStart(7);
  const share = (micros) => `${((micros / busyMicros) * 100).toFixed(1).padStart(5)}%`;
  const perCall = (micros) => `${(micros / calls).toFixed(1).padStart(6)} µs/call`;
  const line = (label, micros) => `  ${msText(micros)} ms ${share(micros)} ${perCall(micros)}  ${label}`;
  const out = [];
  out.push(
    `\n${title}: ${(windowMicros / 1e6).toFixed(1)} s profiled under load, busy ${((busyMicros / windowMicros) * 100).toFixed(0)}% of the main thread, ` +
      `${calls.toLocaleString('en-US')} calls (${(busyMicros / calls).toFixed(0)} µs of main-thread CPU per call)`,
  );
  out.push('', 'self time by package (% of busy time):');
  for (const [category, micros] of sorted(categories)) out.push(line(category, micros));
  out.push('', `top ${top} functions by self time:`);
  for (const [label, e] of sorted(self).slice(0, top)) out.push(line(`[${e.category}] ${label}`, e.micros));
  out.push('', `top ${top} functions by self time in @hitch/grpc, @hitch/core, @opentelemetry/*:`);
  for (const [label, e] of sorted(self).filter(([, e]) => isOurs(e.category)).slice(0, top)) out.push(line(`[${e.category}] ${label}`, e.micros));
  out.push('', `top ${top} functions of those packages by inclusive time (self + callees):`);
  for (const [label, e] of sorted(inclusive).slice(0, top)) out.push(line(`[${e.category}] ${label}`, e.micros));
  return out.join('\n');
}

/** `current` minus `baseline`, in µs per call, largest increases first. */
function diff(current, baseline) {
  const perCall = (map, calls) => new Map([...map].map(([k, v]) => [k, (v.micros ?? v) / calls]));
  const a = perCall(current.map, current.calls);
  const b = perCall(baseline.map, baseline.calls);
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].map((k) => ({ key: k, current: a.get(k) ?? 0, baseline: b.get(k) ?? 0, delta: (a.get(k) ?? 0) - (b.get(k) ?? 0) })).sort((x, y) => y.delta - x.delta);
}

function printDiff(side, current, baseline) {
  const us = (v) => v.toFixed(1).padStart(7);
  const a = current[side];
  const b = baseline[side];
  const out = [];
  const total = a.busyMicros / current.calls - b.busyMicros / baseline.calls;
  out.push(
    `\n${side}, ${current.config.id} against ${baseline.config.id}: ${us(a.busyMicros / current.calls)} vs ${us(b.busyMicros / baseline.calls)} µs of main-thread CPU per call (${total >= 0 ? '+' : ''}${total.toFixed(1)})`,
  );
  out.push('', `self time by package, µs/call (${current.config.id}, ${baseline.config.id}, difference):`);
  for (const d of diff({ map: a.categories, calls: current.calls }, { map: b.categories, calls: baseline.calls })) {
    if (Math.abs(d.delta) >= 0.5) out.push(`  ${us(d.current)} ${us(d.baseline)} ${us(d.delta)}  ${d.key}`);
  }
  out.push('', `functions whose self time grew most, µs/call (${current.config.id}, ${baseline.config.id}, difference):`);
  for (const d of diff({ map: a.self, calls: current.calls }, { map: b.self, calls: baseline.calls }).slice(0, top)) {
    out.push(`  ${us(d.current)} ${us(d.baseline)} ${us(d.delta)}  [${a.self.get(d.key)?.category ?? b.self.get(d.key)?.category}] ${d.key}`);
  }
  return out.join('\n');
}

function readProfile(dir, pid) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile of process ${pid} in ${dir}, found ${files.length}`);
  const file = join(dir, files[0]);
  return { file, profile: JSON.parse(readFileSync(file, 'utf8')) };
}

/** Profiles the server and client of `target` under load; their own profile directory, removed unless --keep. */
async function profileConfig(target) {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-grpc-cpu-prof-'));
  const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  let server;
  let client;
  try {
    server = await startServer(target, { nodeArgs });
    client = await startLoadGenerator(target, server.target, { nodeArgs });
    const run = (s) => client.run({ seconds: s, inFlight, requestCount: REQUEST_COUNT });
    process.stderr.write(`profiling ${target.id}: warm-up ${warmupSeconds} s, then ${seconds} s under load\n`);
    await run(warmupSeconds);
    const before = await server.stats();
    const result = await run(seconds);
    const after = await server.stats();
    const failed = Object.values(result.failed).reduce((sum, n) => sum + n, 0);
    if (failed > 0 || result.mismatched > 0) throw new Error(`${target.id}: calls failed: ${JSON.stringify(result.failed)}, ${result.mismatched} wrong replies`);
    const serverPid = server.pid;
    const clientPid = client.pid;
    await client.stop();
    await server.stop();
    const serverProfile = readProfile(dir, serverPid);
    const clientProfile = readProfile(dir, clientPid);
    const analysed = {
      config: target,
      result,
      calls: result.ok,
      server: analyse(serverProfile.profile, before.hrtimeMicros, after.hrtimeMicros),
      client: analyse(clientProfile.profile, result.startMicros, result.endMicros),
      files: keep ? [serverProfile.file, clientProfile.file] : [],
    };
    if (analysed.server.windowMicros === 0 || analysed.client.windowMicros === 0) throw new Error('no profile sample falls in the measured window (clock mismatch?)');
    return analysed;
  } finally {
    await client?.stop();
    await server?.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const profiled = [];
  for (const target of baseline === undefined ? [config] : [config, baseline]) profiled.push(await profileConfig(target));
  for (const p of profiled) {
    const { result } = p;
    console.log(
      `${p.config.id}: ${Math.round(result.ok / result.seconds).toLocaleString('en-US')} calls/s under the profiler, p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms`,
    );
  }
  const [current, base] = profiled;
  console.log(print(`server ${current.config.id}`, current.server, current.calls));
  console.log(print(`client ${current.config.id}`, current.client, current.calls));
  if (base !== undefined) {
    console.log(printDiff('server', current, base));
    console.log(printDiff('client', current, base));
  }
  for (const p of profiled) for (const file of p.files) console.log(`\nprofile of ${p.config.id}: ${file}`);
} finally {
  killChildren();
}

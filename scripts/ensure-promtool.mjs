// Makes sure `promtool` (Debian's prometheus package) is available for the tests that check
// real /metrics output with it. Installs it when running as root on Debian; otherwise says how.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const candidates = ['/usr/bin/promtool', '/usr/local/bin/promtool'];
if (candidates.some((path) => existsSync(path))) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = existsSync('/usr/bin/apt-get');
if (!isRoot || !hasApt) {
  console.warn("promtool not found: install Debian's prometheus package (sudo apt-get install -y prometheus).");
  console.warn(process.env.CI ? 'CI is set: the promtool tests will fail.' : 'The promtool tests will be skipped.');
  process.exit(0);
}

console.log('Installing promtool (Debian package prometheus)...');
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) => {
  const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`apt-get ${args.join(' ')} failed with status ${result.status}`);
    process.exit(1);
  }
};
run(['update']);
// The package starts a Prometheus server through its init scripts where a service manager
// exists; --no-install-recommends keeps the install to what promtool needs.
run(['install', '-y', '--no-install-recommends', 'prometheus']);
console.log(execFileSync('promtool', ['--version'], { encoding: 'utf8' }).split('\n')[0]);

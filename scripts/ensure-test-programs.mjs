#!/usr/bin/env node
// Makes sure the Debian programs the tests drive are installed. `npm test` runs this first,
// so no test ever skips because a program is missing: as root it installs them with
// apt-get; otherwise it stops and prints the exact line to run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** program path -> Debian package. Add a line when a test starts to need a program. */
const PROGRAMS = [
  { path: '/usr/sbin/mosquitto', pkg: 'mosquitto', why: 'MQTT broker for the delivery tests' },
  { path: '/usr/bin/mosquitto_passwd', pkg: 'mosquitto', why: 'password file for the TLS/login test' },
  { path: '/usr/bin/openssl', pkg: 'openssl', why: 'certificates for the TLS test' },
  { path: '/usr/bin/socat', pkg: 'socat', why: 'pseudo-terminal pairs for the serial link tests' },
  { path: '/usr/lib/postgresql/15/bin/initdb', pkg: 'postgresql', why: 'a throwaway PostgreSQL for the fleet database tests' },
  { path: '/usr/lib/postgresql/15/bin/pg_ctl', pkg: 'postgresql', why: 'starts and stops that PostgreSQL' },
];

const missing = PROGRAMS.filter((p) => !existsSync(p.path));
if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((p) => p.pkg))];
const line = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
for (const p of missing) console.error(`tests need ${p.path} (${p.why}), from the Debian package ${p.pkg}`);

if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
  console.error(`\nnot root, so not installing. Run:\n\n  sudo sh -c '${line}'\n`);
  process.exit(1);
}

console.error(`installing: ${pkgs.join(' ')}`);
// policy-rc.d keeps the packages' services from starting: tests run their own instances.
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
const result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
if (result.status !== 0) {
  console.error(`apt-get install failed (exit ${result.status}); run by hand:\n\n  ${line}\n`);
  process.exit(1);
}
const still = missing.filter((p) => !existsSync(p.path));
if (still.length > 0) {
  console.error(`installed, but still missing: ${still.map((p) => p.path).join(', ')}`);
  process.exit(1);
}
console.error('test programs ready');

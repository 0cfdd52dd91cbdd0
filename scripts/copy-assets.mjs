#!/usr/bin/env node
// Copies the files the compiled code reads beside it (tsc copies only what it compiles):
// the fleet's SQL migrations, and the Modbus simulator the compiled benchmark starts. Run by
// `npm run build` after tsc.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const ASSETS = [['fleet/db/migrations', 'dist/fleet/db/migrations']];
for (const [from, to] of ASSETS) {
  mkdirSync(to, { recursive: true });
  cpSync(from, to, { recursive: true });
}

const FILES = [['test/support/pymodbus-sim.py', 'dist/test/support/pymodbus-sim.py']];
for (const [from, to] of FILES) {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to);
}

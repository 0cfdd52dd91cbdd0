#!/usr/bin/env node
// Copies the files the compiled code reads beside it (tsc copies only what it compiles):
// the fleet's SQL migrations. Run by `npm run build` after tsc.
import { cpSync, mkdirSync } from 'node:fs';

const ASSETS = [['fleet/db/migrations', 'dist/fleet/db/migrations']];
for (const [from, to] of ASSETS) {
  mkdirSync(to, { recursive: true });
  cpSync(from, to, { recursive: true });
}

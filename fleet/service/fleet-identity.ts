import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from '../db/open-database.js';
import { jsonParam } from '../db/json.js';
import { generateSecret, hashPassword, mosquittoPasswordHash, verifyPassword } from '../registry/credentials.js';
import { readSecretFile, writeSecretFile } from './secrets.js';

export interface FleetMqttIdentity {
  /** The fleet's own MQTT password (to log in to an external broker). */
  readonly password: string;
  readonly scrypt: string;
  readonly mosquitto: string;
}

const KEY = 'fleet.mqtt';

/**
 * The fleet service's own MQTT login (user `edgewise-fleet`), for an external broker. The
 * password lives in DATA_DIR/fleet-mqtt-password (0600); its hashes in the database, where
 * the Mosquitto files are made from. Several fleet instances on one database share it: copy
 * the file into each data directory.
 */
export async function fleetMqttIdentity(sql: Sql, dataDir: string): Promise<FleetMqttIdentity> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, 'fleet-mqtt-password');
  const stored = (await sql.query<{ value: { scrypt: string; mosquitto: string } }>('SELECT value FROM fleet_settings WHERE key = $1', [KEY]))[0]?.value;
  const local = await readSecretFile(file);
  if (stored !== undefined && local !== undefined && (await verifyPassword(local, stored.scrypt))) return { password: local, ...stored };
  if (stored !== undefined && local === undefined) {
    throw new Error(`${file} is missing, but the database already has the fleet's MQTT login (made by another fleet instance): copy that instance's fleet-mqtt-password here`);
  }
  // First start, or a file that does not match: a new login (an external broker needs `fleet acl` again).
  const password = generateSecret();
  const identity = { password, scrypt: await hashPassword(password), mosquitto: await mosquittoPasswordHash(password) };
  await sql.query('INSERT INTO fleet_settings (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [KEY, jsonParam({ scrypt: identity.scrypt, mosquitto: identity.mosquitto })]);
  await writeSecretFile(file, `${password}\n`);
  return identity;
}

import { mkdir } from 'node:fs/promises';
import { openDatabase } from '../../fleet/db/open-database.js';
import { hashPassword, mosquittoPasswordHash, generateSecret } from '../../fleet/registry/credentials.js';
import { GatewayStore, healthRow, type GatewayStatus } from '../../fleet/registry/gateway-store.js';

/** Lines of the seeded fleet, one per gateway in turn. */
const LINES = ['press', 'paint', 'stamp', 'weld'] as const;
export const SITES = 20;

export const seededId = (i: number): string => `gw-${String(i).padStart(5, '0')}`;
export const seededSite = (i: number): string => `plant-${String(i % SITES).padStart(2, '0')}`;

/**
 * What a seeded gateway is: every tenth is never seen, every tenth (another) revoked, the rest
 * seen with a health report and release 1-5 of model `press` active. (A fleet starting its
 * embedded broker marks every gateway offline, so the seen ones show as offline.)
 */
export function seededKind(i: number): 'never-seen' | 'revoked' | 'seen' {
  return i % 10 === 8 ? 'never-seen' : i % 10 === 9 ? 'revoked' : 'seen';
}

/**
 * BENCH ONLY: writes `n` gateways straight into a fleet database (DATA/db, created and migrated
 * here; the fleet must not be running). Provisioning makes a new password and two slow hashes
 * per gateway (scrypt, PBKDF2), 10,000 of them is minutes of CPU; these gateways never log in,
 * so they all share one precomputed pair of hashes. Everything else goes through the registry's
 * own store: `insert`, `applyStates`, `applyHealthRows`, `revoke`.
 */
export async function seedGateways(dataDir: string, n: number, progress: (message: string) => void): Promise<Record<GatewayStatus | 'total', number>> {
  await mkdir(dataDir, { recursive: true });
  const sql = await openDatabase('embedded', dataDir);
  try {
    const store = new GatewayStore(sql);
    const secret = generateSecret();
    const [passwordScrypt, passwordMosquitto] = await Promise.all([hashPassword(secret), mosquittoPasswordHash(secret)]);
    const now = Date.now();
    const CHUNK = 500;
    for (let from = 0; from < n; from += CHUNK) {
      const to = Math.min(n, from + CHUNK);
      const idx = Array.from({ length: to - from }, (_, k) => from + k);
      await sql.transaction(async (tx) => {
        const s = new GatewayStore(tx);
        for (const i of idx) await s.insert({ id: seededId(i), site: seededSite(i), labels: { site: seededSite(i), line: LINES[i % LINES.length] as string, hall: String(i % 7) }, passwordScrypt, passwordMosquitto, nowMs: now - 86_400_000 });
      });
      const seen = idx.filter((i) => seededKind(i) !== 'never-seen');
      await store.applyStates(seen.map((i) => ({ gw: seededId(i), online: true, clean: true, ts: now - i, runtimeVersion: '0.1.0', receivedMs: now - i })));
      await store.applyHealthRows(
        seen.map((i) =>
          healthRow({
            gw: seededId(i),
            ts: now - i,
            status: i % 37 === 0 ? 'degraded' : 'ok',
            reasons: i % 37 === 0 ? ['uplink: reconnecting'] : [],
            runtimeVersion: '0.1.0',
            hardware: { arch: 'arm64', platform: 'linux', cpus: 4, memoryBytes: 4e9, accelerators: ['cpu'] },
            releases: { press: { active: { release: 1 + (i % 5), version: `2026.${1 + (i % 5)}`, sha256: 'ab'.repeat(32) }, standby: i % 5 === 0 ? null : { release: i % 5, version: `2026.${i % 5}`, sha256: 'cd'.repeat(32) } } },
            report: { gw: seededId(i), status: 'ok' },
            receivedMs: now - i,
          }),
        ),
      );
      for (const i of idx.filter((j) => seededKind(j) === 'revoked')) await store.revoke(seededId(i), now);
      if (to % 2000 === 0 || to === n) progress(`seeded ${to} of ${n} gateways`);
    }
    const counts = await store.count();
    return { ...counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
  } finally {
    await sql.close();
  }
}

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../../fleet/broker/embedded-broker.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { EventLog } from '../../../../runtime/health/events.js';
import { Registry } from '../../../../runtime/health/prom-client.js';
import { BdSeqStore } from '../../../../runtime/uplink/sparkplug/bd-seq.js';
import { SparkplugEdgeNode } from '../../../../runtime/uplink/sparkplug/edge-node.js';
import { DATATYPE_IDS } from '../../../../runtime/uplink/sparkplug/metrics.js';
import { readSparkplugFiles } from '../../../../runtime/uplink/sparkplug/files.js';
import { sparkplugSettings, type SparkplugSection } from '../../../../runtime/uplink/sparkplug/schema.js';
import { MemoryFeed } from '../../../support/sparkplug-memory-feed.js';
import { SparkplugHost, type HostMessage } from '../../../support/sparkplug-host.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { makeTlsFiles } from '../../../support/tls-files.js';
import { waitFor } from '../../../support/wait-for.js';

const SOURCES: SparkplugSection['sources'] = [
  {
    id: 'press-1',
    metrics: [
      { name: 'temperature', type: 'Double', unit: 'degC' },
      { name: 'pressure', type: 'Float', unit: 'bar' },
      { name: 'offset', type: 'Int16' },
      { name: 'count', type: 'UInt32' },
      { name: 'running', type: 'Boolean' },
      { name: 'recipe', type: 'String' },
    ],
  },
  { id: 'line1.rs485', deviceId: 'line1', metrics: [{ name: 'n', type: 'Int32' }] },
];

/** The seq of every message after the NBIRTH that counts (all but NDEATH), checked for +1 mod 256. */
function seqGaps(messages: readonly HostMessage[]): string[] {
  const gaps: string[] = [];
  let prev: number | undefined;
  messages.forEach((m, i) => {
    if (m.type === 'NCMD' || m.type === 'DCMD') return; // the host's own commands
    if (m.type === 'NDEATH') {
      prev = undefined;
      return;
    }
    if (m.type === 'NBIRTH') {
      if (m.seq !== 0) gaps.push(`#${i} NBIRTH seq ${m.seq}`);
      prev = 0;
      return;
    }
    if (prev === undefined) gaps.push(`#${i} ${m.type} before any NBIRTH`);
    else if (m.seq !== (prev + 1) % 256) gaps.push(`#${i} ${m.type} seq ${m.seq} after ${prev}`);
    prev = m.seq;
  });
  return gaps;
}

function bdSeqOf(m: HostMessage): number | undefined {
  const v = m.metrics.find((x) => x.name === 'bdSeq')?.value;
  return typeof v === 'number' ? v : undefined;
}

/** Values of metric alias `alias` in DDATA of `device`, in arrival order. */
function dataValues(host: SparkplugHost, device: string, alias: number): { value: unknown; ts: number; historical: boolean }[] {
  return host
    .of('DDATA')
    .filter((m) => m.device === device)
    .flatMap((m) => m.metrics.filter((x) => x.alias === alias).map((x) => ({ value: x.value, ts: x.timestamp, historical: x.historical })));
}

describe('the Sparkplug B edge node against aedes and a host application', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker;
  let host: SparkplugHost | undefined;
  let node: SparkplugEdgeNode | undefined;
  const events = new EventLog(pino({ level: 'silent' }), new Registry()).for('sparkplug');

  beforeEach(async () => {
    dir = await makeTempDir('edgewise-spb-');
    broker = await EmbeddedBroker.create();
  });
  afterEach(async () => {
    await node?.stop();
    node = undefined;
    await host?.close();
    host = undefined;
    await broker.close();
    await dir.remove();
  });

  async function startNode(feed: MemoryFeed, extra: Partial<SparkplugSection> = {}): Promise<SparkplugEdgeNode> {
    const settings = sparkplugSettings({ url: broker.url, groupId: 'Plant1', edgeNodeId: 'gw-01', sources: SOURCES, reconnect: { minDelayMs: 50, maxDelayMs: 200 }, ...extra });
    const n = new SparkplugEdgeNode(feed, settings, {}, await BdSeqStore.open(`${dir.path}/state`), events);
    node = n;
    n.start();
    return n;
  }

  it('births before data, names every alias in the births, numbers seq 0-255 with wrap, and decodes every datatype', async () => {
    const h = await SparkplugHost.connect(broker.url, 'Plant1');
    host = h;
    const feed = new MemoryFeed();
    const n = await startNode(feed, { batchMaxRecords: 1 });
    await waitFor(() => n.stats().born, 'the first birth');
    const t0 = Date.now() - 1000;
    feed.push('press-1', { temperature: 21.5, pressure: [1.25], offset: -300, count: 4_000_000_000, running: [1], recipe: 'A-7' }, t0, { temperature: 'degC' });
    for (let i = 0; i < 299; i += 1) feed.push('line1.rs485', { n: [i - 100] }, t0 + i);
    await waitFor(() => feed.acked.size === 300 && h.of('DDATA').length === 300, 'all 300 records acknowledged and at the host');

    const [nbirth, ...rest] = h.messages;
    expect(nbirth?.type).toBe('NBIRTH');
    expect(bdSeqOf(nbirth as HostMessage)).toBe(n.stats().bdSeq);
    expect(nbirth?.metrics.find((m) => m.name === 'Node Control/Rebirth')).toMatchObject({ value: false, datatype: DATATYPE_IDS.Boolean });
    expect(rest.slice(0, 2).map((m) => `${m.type} ${m.device}`)).toEqual(['DBIRTH press-1', 'DBIRTH line1']);
    expect(seqGaps(h.messages)).toEqual([]);
    expect(h.messages.filter((m) => m.seq === 0).length).toBe(2); // NBIRTH, and the wrap after 255
    // Births carry name, alias, datatype and engUnit; data only aliases the births named, without datatypes.
    const births = h.of('DBIRTH').flatMap((m) => m.metrics);
    expect(births.every((m) => m.name !== undefined && m.alias !== undefined && m.datatype !== undefined)).toBe(true);
    expect(births.find((m) => m.name === 'temperature')?.engUnit).toBe('degC');
    const aliases = new Set(births.map((m) => m.alias));
    expect(aliases.size).toBe(7);
    const data = h.of('DDATA').flatMap((m) => m.metrics);
    expect(data.every((m) => m.name === undefined && m.datatype === undefined && aliases.has(m.alias))).toBe(true);
    expect(h.of('DDATA').every((m) => m.unknownAliases === 0)).toBe(true);

    const alias = (device: string, name: string): number => n.deviceDefs.find((d) => d.deviceId === device)?.byName.get(name)?.alias as number;
    const first = h.of('DDATA')[0]?.metrics ?? [];
    const value = (name: string): unknown => first.find((m) => m.alias === alias('press-1', name))?.value;
    expect(value('temperature')).toBe(21.5);
    expect(value('pressure')).toBe(1.25);
    expect(value('offset')).toBe(-300);
    expect(value('count')).toBe(4_000_000_000);
    expect(value('running')).toBe(true);
    expect(value('recipe')).toBe('A-7');
    expect(first.every((m) => m.timestamp === t0)).toBe(true);
    const ns = dataValues(h, 'line1', alias('line1', 'n'));
    expect(ns.map((x) => x.value)).toEqual(Array.from({ length: 299 }, (_, i) => i - 100));
    expect(ns.every((x, i) => x.ts === t0 + i && !x.historical)).toBe(true);
    expect(n.stats()).toMatchObject({ badValues: 0, historicalRecords: 0, unmappedRecords: 0, ackedRecords: 300 });
  });

  it('answers Node Control/Rebirth with NBIRTH (seq 0, same bdSeq) and every DBIRTH, and sends nothing unknown', async () => {
    const h = await SparkplugHost.connect(broker.url, 'Plant1');
    host = h;
    const feed = new MemoryFeed();
    const n = await startNode(feed);
    await waitFor(() => n.stats().born, 'the first birth');
    feed.push('press-1', { temperature: 20 });
    await waitFor(() => feed.acked.size === 1, 'the first record acknowledged');
    feed.push('unknown-source', { x: 1 });
    feed.push('press-1', { temperature: 'hot' });
    await waitFor(() => feed.acked.size === 3, 'the records acknowledged');
    await h.requestRebirth('gw-01');
    await waitFor(() => h.of('NBIRTH').length === 2 && h.of('DBIRTH').length === 4, 'the rebirth');
    feed.push('press-1', { temperature: 22 });
    await waitFor(() => h.of('DDATA').length === 3, 'data after the rebirth');

    const [b1, b2] = h.of('NBIRTH');
    expect(bdSeqOf(b2 as HostMessage)).toBe(bdSeqOf(b1 as HostMessage));
    expect(seqGaps(h.messages)).toEqual([]);
    expect(h.messages.map((m) => m.type).filter((t) => t !== 'NCMD')).toEqual(['NBIRTH', 'DBIRTH', 'DBIRTH', 'DDATA', 'DDATA', 'NBIRTH', 'DBIRTH', 'DBIRTH', 'DDATA']);
    // The rebirth's DBIRTH carries the current value (the last one sent): null for the bad one, which was counted.
    const tAlias = n.deviceDefs[0]?.byName.get('temperature')?.alias;
    expect(h.of('DBIRTH')[2]?.metrics.find((m) => m.alias === tAlias)?.value).toBe(null);
    expect(n.stats()).toMatchObject({ rebirthRequests: 1, births: 2, unmappedRecords: 1, badValues: 1, connects: 1 });
  });

  it('sends a DDEATH for a source that went away, leaves it out of rebirths, and births it again before its next data', async () => {
    const h = await SparkplugHost.connect(broker.url, 'Plant1');
    host = h;
    const feed = new MemoryFeed();
    const n = await startNode(feed);
    await waitFor(() => n.stats().born, 'the first birth');
    n.setDeviceOnline('line1.rs485', false);
    await h.requestRebirth('gw-01');
    await waitFor(() => h.of('NBIRTH').length === 2, 'the rebirth');
    feed.push('line1.rs485', { n: 5 });
    await waitFor(() => feed.acked.size === 1, 'the record of the returning device');
    const seen = h.messages.filter((m) => m.type !== 'NCMD').map((m) => `${m.type}${m.device === undefined ? '' : ` ${m.device}`}`);
    expect(seen).toEqual(['NBIRTH', 'DBIRTH press-1', 'DBIRTH line1', 'DDEATH line1', 'NBIRTH', 'DBIRTH press-1', 'DBIRTH line1', 'DDATA line1']);
    expect(seqGaps(h.messages)).toEqual([]);
    expect(n.stats().deviceDeaths).toBe(1);
  });

  it('holds data while the primary host is offline, ignores a stale offline, and sends the held data as historical after the rebirth', async () => {
    const h = await SparkplugHost.attach(broker, 'Plant1', 'ignition-1');
    host = h;
    const t1 = Date.now();
    await h.publishState(true, t1);
    const feed = new MemoryFeed();
    const n = await startNode(feed, { primaryHostId: 'ignition-1' });
    await waitFor(() => n.stats().born, 'the birth after the host is online');
    const bd1 = n.stats().bdSeq;
    feed.push('line1.rs485', { n: 1 });
    await waitFor(() => feed.acked.size === 1, 'live data');

    // An offline older than the online we saw (a replayed Will of an earlier host session): ignored.
    await h.publishState(false, t1 - 5000);
    await waitFor(() => n.stats().staleStatesIgnored === 1, 'the stale offline to be ignored');
    expect(n.stats().born).toBe(true);

    await h.publishState(false, t1);
    await waitFor(() => h.of('NDEATH').length === 1 && n.stats().connected && !n.stats().born && n.stats().holdingSinceMs !== null, 'NDEATH, reconnect, and holding').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(n.stats())} ${h.messages.map((m) => m.type).join(' ')}`);
    });
    expect(bdSeqOf(h.of('NDEATH')[0] as HostMessage)).toBe(bd1);
    const heldFrom = Date.now() - 60_000;
    for (let i = 0; i < 20; i += 1) feed.push('line1.rs485', { n: 100 + i }, heldFrom + i);
    expect(n.degradedReason()).toMatch(/primary host ignition-1 is offline; data is held/);

    await h.publishState(true, t1 + 10_000);
    await waitFor(() => feed.acked.size === 21, 'the held records acknowledged after the host returned');
    const types = h.messages.map((m) => m.type);
    const death = types.indexOf('NDEATH');
    expect(types.slice(death)).toEqual(['NDEATH', 'NBIRTH', 'DBIRTH', 'DBIRTH', ...types.slice(death + 4).map(() => 'DDATA')]);
    expect(bdSeqOf(h.of('NBIRTH')[1] as HostMessage)).toBe(((bd1 as number) + 1) % 256);
    expect(seqGaps(h.messages)).toEqual([]);
    const nAlias = n.deviceDefs[1]?.byName.get('n')?.alias as number;
    const held = dataValues(h, 'line1', nAlias).slice(1);
    expect(held).toEqual(Array.from({ length: 20 }, (_, i) => ({ value: 100 + i, ts: heldFrom + i, historical: true })));
    expect(n.stats().historicalRecords).toBe(20);
  });

  it('follows a Sparkplug 2.2 host (STATE/<host> ONLINE/OFFLINE) and keeps serving after a STATE it cannot read', async () => {
    const h = await SparkplugHost.attach(broker, 'Plant1');
    host = h;
    await broker.publish('STATE/scada-v2', '{"not":"a word"}', { qos: 1, retain: true });
    const n = await startNode(new MemoryFeed(), { primaryHostId: 'scada-v2', stateFormat: 'v2' });
    await waitFor(() => n.stats().invalidStateMessages === 1, 'the unreadable STATE to be counted');
    expect(n.stats().born).toBe(false);
    expect(n.degradedReason()).toMatch(/waiting for the STATE of primary host scada-v2/);
    await broker.publish('STATE/scada-v2', 'ONLINE', { qos: 1, retain: true });
    await waitFor(() => h.of('NBIRTH').length === 1, 'the birth after ONLINE');
    await broker.publish('STATE/scada-v2', 'OFFLINE', { qos: 1, retain: true });
    await waitFor(() => h.of('NDEATH').length === 1 && n.stats().connects === 2 && n.stats().connected, 'NDEATH and a new connection after OFFLINE');
    expect(n.stats().born).toBe(false);
  });

  it('after a broker outage sends what waited as historical, with nothing lost and duplicates only from redelivery', async () => {
    const h = await SparkplugHost.attach(broker, 'Plant1');
    host = h;
    const feed = new MemoryFeed();
    const n = await startNode(feed, { batchMaxRecords: 5, maxInFlight: 4 });
    await waitFor(() => n.stats().born, 'the first birth');
    let i = 0;
    const producer = setInterval(() => feed.push('line1.rs485', { n: i++ }), 2);
    try {
      await waitFor(() => feed.acked.size > 200, 'data flowing');
      await broker.stop();
      await waitFor(() => !n.stats().connected, 'the edge node to notice the outage');
      const before = i;
      await waitFor(() => i > before + 100, 'records stored during the outage');
      await broker.start();
      await waitFor(() => n.stats().born && feed.acked.size > before + 150, 'the backlog after the outage');
    } finally {
      clearInterval(producer);
    }
    await waitFor(() => feed.acked.size === i, `all ${i} records acknowledged`);
    const nAlias = n.deviceDefs[1]?.byName.get('n')?.alias as number;
    const got = dataValues(h, 'line1', nAlias);
    const counts = new Map<unknown, number>();
    for (const g of got) counts.set(g.value, (counts.get(g.value) ?? 0) + 1);
    expect(Array.from({ length: i }, (_, k) => k).filter((k) => !counts.has(k))).toEqual([]);
    const duplicates = got.length - counts.size;
    expect(duplicates).toBeLessThanOrEqual(5 * 4); // at most what was in flight at the outage
    expect(h.of('NDEATH').length).toBe(1); // the broker published the Will when it dropped the connection
    expect(seqGaps(h.messages)).toEqual([]);
    const secondBirth = h.messages.findIndex((m, k) => m.type === 'NBIRTH' && k > 0);
    const afterBirth = h.messages.slice(secondBirth).filter((m) => m.type === 'DDATA');
    // The first messages after the new birth carry what waited through the outage: historical, original timestamps.
    expect(afterBirth[0]?.metrics.every((m) => m.historical)).toBe(true);
    expect(n.stats().historicalRecords).toBeGreaterThan(100);
    expect(n.stats().connects).toBe(2);
  });

  it('connects over mutual TLS with the files the section names, and names a bad file under sparkplug.tls', async () => {
    const tls = makeTlsFiles(dir.path);
    const tlsBroker = await EmbeddedBroker.create({ tls: { key: readFileSync(tls.serverKey), cert: readFileSync(tls.serverCert), ca: readFileSync(tls.ca) } });
    try {
      const h = await SparkplugHost.attach(tlsBroker, 'Plant1');
      host = h;
      const settings = sparkplugSettings({ url: tlsBroker.tlsUrl as string, groupId: 'Plant1', edgeNodeId: 'gw-tls', sources: SOURCES, tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey } });
      const { files, problems } = await readSparkplugFiles(settings);
      expect(problems).toEqual([]);
      const n = new SparkplugEdgeNode(new MemoryFeed(), settings, files, await BdSeqStore.open(`${dir.path}/state`), events);
      node = n;
      n.start();
      await waitFor(() => h.of('NBIRTH').length === 1, 'the birth over TLS');
      await n.stop();
      node = undefined;
      await waitFor(() => h.of('NDEATH').length === 1, 'the NDEATH of a clean stop');

      writeFileSync(`${dir.path}/bad.pem`, 'not a certificate');
      const bad = await readSparkplugFiles(sparkplugSettings({ url: 'mqtts://x', groupId: 'g', edgeNodeId: 'e', sources: SOURCES, tls: { ca: `${dir.path}/bad.pem`, cert: tls.clientCert, key: `${dir.path}/missing.key` } }));
      expect(bad.problems.map((p) => p.split(':')[0])).toEqual(['sparkplug.tls.key', 'sparkplug.tls.ca']);
    } finally {
      await host?.close();
      host = undefined;
      await tlsBroker.close();
    }
  });
});

import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { FLEET_LEARNING_PREFIX, FLEET_RELEASE_TOPIC, gatewayTopic } from '../../../fleet/protocol/index.js';
import { gatewayClientId, type Registry } from '../../../fleet/registry/registry.js';
import { waitFor } from '../../support/wait-for.js';
import { TestClients, subscribeCode, type Received } from './mqtt-test-clients.js';

/** A gateway as the tests know it: what provisioning handed out. */
export interface TestGateway {
  readonly id: string;
  readonly password: string;
  readonly clientId: string;
}

/**
 * One broker with gateway credentials and ACL, as the shared suite drives it. The embedded
 * broker and Mosquitto enforce the same table, but refuse differently (MQTT 3.1.1 leaves it
 * to the broker): aedes drops a client that publishes where it must not and answers SUBACK
 * 0x80; Mosquitto acknowledges and discards the publish and grants the subscription but
 * delivers nothing through it.
 */
export interface BrokerUnderTest {
  readonly url: string;
  readonly registry: Registry;
  /** Everything under `edgewise/v1/` that reached the fleet (in-process, or as the fleet's MQTT client). */
  readonly seen: Received[];
  /** The fleet publishes one of its own messages (QoS 1). */
  fleetPublish(topic: string, payload: string): Promise<void>;
  /** Makes the broker see the registry as it is now; resolves once these gateways can log in. */
  sync(canConnect: readonly TestGateway[]): Promise<void>;
  /** Revokes in the registry and ends the live session the way this broker does it; resolves once it is refused. */
  revoke(gateway: TestGateway): Promise<void>;
  readonly deniedPublish: 'disconnects' | 'acknowledged-and-discarded';
  readonly deniedSubscribe: 'suback-0x80' | 'granted-delivers-nothing';
  /** Whether the broker binds the client id to the gateway (aedes does; Mosquitto cannot). */
  readonly bindsClientId: boolean;
}

let counter = 0;

export function describeBrokerSecurity(name: string, rig: () => BrokerUnderTest): void {
  describe(`${name}: gateway credentials and ACL`, () => {
    const clients = new TestClients();
    afterEach(async () => {
      await clients.closeAll();
    });

    async function provision(n = 1): Promise<TestGateway[]> {
      const out: TestGateway[] = [];
      for (let i = 0; i < n; i++) {
        counter += 1;
        const r = await rig().registry.provision({ id: `gw-${process.pid}-${counter}` });
        out.push({ id: r.username, password: r.password, clientId: r.clientId });
      }
      await rig().sync(out);
      return out;
    }

    const login = (g: TestGateway, over: { password?: string; clientId?: string; username?: string } = {}) => ({
      username: over.username ?? g.id,
      password: over.password ?? g.password,
      clientId: over.clientId ?? g.clientId,
    });

    /** B listens to its own commands and the fleet-wide release; returns its message log. */
    async function listeningGateway(b: TestGateway): Promise<{ client: MqttClient; log: Received[] }> {
      const client = await clients.connected(rig().url, login(b));
      await client.subscribeAsync([gatewayTopic(b.id, 'release'), FLEET_RELEASE_TOPIC], { qos: 1 });
      return { client, log: clients.messages(client) };
    }

    /** Proves the fleet and B are still connected and receiving. */
    async function othersStillWork(b: { client: MqttClient; log: Received[] }, bId: string, tag: string): Promise<void> {
      await b.client.publishAsync(gatewayTopic(bId, 'records'), `marker-${tag}`, { qos: 1 });
      await waitFor(() => rig().seen.some((m) => m.payload === `marker-${tag}`), `the fleet receiving B's marker ${tag}`, 5_000);
      await rig().fleetPublish(gatewayTopic(bId, 'release'), `command-${tag}`);
      await waitFor(() => b.log.some((m) => m.payload === `command-${tag}`), `B receiving command ${tag}`, 5_000);
      expect(b.client.connected).toBe(true);
    }

    it('lets a provisioned gateway connect and publish its own topics to the fleet', async () => {
      const [a] = (await provision()) as [TestGateway];
      const client = await clients.connected(rig().url, login(a));
      await client.publishAsync(gatewayTopic(a.id, 'records'), 'own-records', { qos: 1 });
      await client.publishAsync(gatewayTopic(a.id, 'update-report'), 'own-report', { qos: 1 });
      await waitFor(() => rig().seen.some((m) => m.payload === 'own-report'), 'the fleet receiving the update report', 5_000);
      expect(rig().seen.filter((m) => m.topic.startsWith(`edgewise/v1/gw/${a.id}/`)).map((m) => m.payload)).toEqual(['own-records', 'own-report']);
    });

    it('refuses a wrong password, an unknown gateway and a revoked one with CONNACK 5', async () => {
      const [a, r] = (await provision(2)) as [TestGateway, TestGateway];
      expect(await clients.connect(rig().url, login(a, { password: 'not-the-password' }))).toMatchObject({ ok: false, code: 5 });
      expect(await clients.connect(rig().url, login(a, { password: r.password }))).toMatchObject({ ok: false, code: 5 });
      expect(await clients.connect(rig().url, { username: 'gw-never-provisioned', password: a.password, clientId: gatewayClientId('gw-never-provisioned') })).toMatchObject({ ok: false, code: 5 });
      await rig().revoke(r);
      expect(await clients.connect(rig().url, login(r))).toMatchObject({ ok: false, code: 5 });
      // The others are untouched.
      expect((await clients.connect(rig().url, login(a))).ok).toBe(true);
    });

    it('never delivers a publish to another gateway\'s topics, a command topic or the fleet tree, and the others carry on', async () => {
      const [a, bGw] = (await provision(2)) as [TestGateway, TestGateway];
      const b = await listeningGateway(bGw);
      const forbidden = [
        gatewayTopic(bGw.id, 'records'),
        gatewayTopic(bGw.id, 'state'),
        gatewayTopic(bGw.id, 'release'),
        gatewayTopic(a.id, 'release'),
        FLEET_RELEASE_TOPIC,
        `${FLEET_LEARNING_PREFIX}/round-1`,
        `edgewise/v1/gw/${a.id}/records/extra`,
      ];
      for (const [i, topic] of forbidden.entries()) {
        const tag = `${counter}-${i}`;
        const client = await clients.connected(rig().url, login(a));
        if (rig().deniedPublish === 'disconnects') {
          client.publish(topic, `forbidden-${tag}`, { qos: 1 }, () => {});
          await waitFor(() => !client.connected, `A dropped after publishing to ${topic}`, 5_000);
        } else {
          // Mosquitto's PUBACK comes after its ACL check: from here on, the message is gone or delivered.
          await client.publishAsync(topic, `forbidden-${tag}`, { qos: 1 });
          expect(client.connected).toBe(true);
        }
        await othersStillWork(b, bGw.id, tag);
        expect(rig().seen.filter((m) => m.payload === `forbidden-${tag}`)).toEqual([]);
        expect(b.log.filter((m) => m.payload === `forbidden-${tag}`)).toEqual([]);
        await client.endAsync(true);
      }
    });

    it('delivers nothing through a subscription to another gateway\'s commands or to wildcards that reach past its own', async () => {
      const [a, bGw] = (await provision(2)) as [TestGateway, TestGateway];
      const b = await listeningGateway(bGw);
      const client = await clients.connected(rig().url, login(a));
      const refused = [gatewayTopic(bGw.id, 'release'), '#', 'edgewise/v1/gw/+/release', `edgewise/v1/gw/${bGw.id}/#`, 'edgewise/v1/fleet/#', '+/v1/gw/+/records'];
      for (const filter of refused) {
        const code = await subscribeCode(client, filter);
        expect(code, filter).toBe(rig().deniedSubscribe === 'suback-0x80' ? 0x80 : 1);
      }
      expect(await subscribeCode(client, gatewayTopic(a.id, 'release'))).toBe(1);
      expect(await subscribeCode(client, `${FLEET_LEARNING_PREFIX}/#`)).toBe(1);
      expect(client.connected).toBe(true);

      await b.client.publishAsync(gatewayTopic(bGw.id, 'records'), 'b-records', { qos: 1 });
      await waitFor(() => rig().seen.some((m) => m.payload === 'b-records'), 'the fleet receiving B\'s records', 5_000);
      await rig().fleetPublish(gatewayTopic(bGw.id, 'release'), 'for-b-only');
      await rig().fleetPublish(gatewayTopic(a.id, 'release'), 'for-a');
      await waitFor(() => b.log.some((m) => m.payload === 'for-b-only'), 'B receiving its command', 5_000);
      await waitFor(() => clients.messages(client).some((m) => m.payload === 'for-a'), 'A receiving its own command', 5_000);
      const topicsA = new Set(clients.messages(client).map((m) => m.topic));
      expect([...topicsA]).toEqual([gatewayTopic(a.id, 'release')]);
      expect(client.connected).toBe(true);
    });

    it('ends a revoked gateway\'s live session and refuses it from then on, leaving the others connected', async () => {
      const [r, bGw] = (await provision(2)) as [TestGateway, TestGateway];
      const b = await listeningGateway(bGw);
      const live = await clients.connected(rig().url, login(r));
      await rig().revoke(r);
      await waitFor(() => !live.connected, 'the revoked gateway\'s session to end', 10_000);
      expect(await clients.connect(rig().url, login(r))).toMatchObject({ ok: false, code: 5 });
      await othersStillWork(b, bGw.id, `revoke-${counter}`);
    });

    it('binds the client id to the gateway where the broker can', async () => {
      const [a, bGw] = (await provision(2)) as [TestGateway, TestGateway];
      const b = await listeningGateway(bGw);
      const outcome = await clients.connect(rig().url, login(a, { clientId: bGw.clientId }));
      if (rig().bindsClientId) {
        expect(outcome).toMatchObject({ ok: false, code: 2 });
      } else {
        // Mosquitto has no per-user client id. A's credentials under B's client id still only
        // read what A may read: B's commands do not reach it.
        expect(outcome.ok).toBe(true);
        if (!outcome.ok) return;
        await subscribeCode(outcome.client, gatewayTopic(bGw.id, 'release'));
        await subscribeCode(outcome.client, gatewayTopic(a.id, 'release'));
        await rig().fleetPublish(gatewayTopic(bGw.id, 'release'), 'b-command');
        await rig().fleetPublish(gatewayTopic(a.id, 'release'), 'a-command');
        await waitFor(() => clients.messages(outcome.client).some((m) => m.payload === 'a-command'), 'A\'s own command', 5_000);
        expect(clients.messages(outcome.client).map((m) => m.payload)).toEqual(['a-command']);
      }
      // Either way B keeps its session (Mosquitto: use_username_as_clientid).
      await othersStillWork(b, bGw.id, `client-id-${counter}`);
    });
  });
}

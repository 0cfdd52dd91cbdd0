import { pino } from 'pino';
import { EventLog } from '../../runtime/health/events.js';
import { Registry } from '../../runtime/health/prom-client.js';
import { BdSeqStore } from '../../runtime/uplink/sparkplug/bd-seq.js';
import { SparkplugEdgeNode } from '../../runtime/uplink/sparkplug/edge-node.js';
import { sparkplugSettings, type SparkplugSection } from '../../runtime/uplink/sparkplug/schema.js';
import { MemoryFeed } from './sparkplug-memory-feed.js';

/**
 * A Sparkplug edge node in its own process, for the test that kills it with SIGKILL (the Will
 * needs a socket that the kernel closes, not one the node closes itself).
 * argv: <section as JSON> <state dir>. Prints one JSON line per birth: {"event":"born","bdSeq":N}.
 * A record of source `line1` with a growing counter `n` is stored every 50 ms.
 */
const [sectionJson, stateDir] = process.argv.slice(2);
if (sectionJson === undefined || stateDir === undefined) {
  process.stderr.write('usage: sparkplug-edge-child <section json> <state dir>\n');
  process.exit(2);
}
const feed = new MemoryFeed();
const events = new EventLog(pino({ level: 'silent' }), new Registry()).for('sparkplug');
const node = new SparkplugEdgeNode(feed, sparkplugSettings(JSON.parse(sectionJson) as SparkplugSection), {}, await BdSeqStore.open(stateDir), events);
node.start();
let n = 0;
let births = 0;
setInterval(() => {
  feed.push('line1', { n: n++ });
  const s = node.stats();
  if (s.births > births) {
    births = s.births;
    process.stdout.write(`${JSON.stringify({ event: 'born', bdSeq: s.bdSeq })}\n`);
  }
}, 50);

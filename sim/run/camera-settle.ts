import type { SimGateway } from './sim-gateway.js';

/** How long a vision stage may take, past the run's end, to see the frames that end the window's tracks. */
const SETTLE_TIMEOUT_MS = 30_000;

/**
 * At the run's end: each camera's scored window ends (camera-play.ts), and the runner waits
 * until every vision stage has seen far enough past it to have sent the defect events of the
 * parts that left in it. The cameras settle side by side; a stage that does not get there in
 * time is said, and its late parts count as missed.
 */
export async function settleCameras(gateways: Iterable<SimGateway>, runEndMs: number, say: (line: string) => void): Promise<void> {
  const cameras = [...gateways].flatMap((g) => (g.camera === null ? [] : [g.camera]));
  const results = await Promise.all(cameras.map((c) => c.settle(runEndMs, SETTLE_TIMEOUT_MS)));
  for (const [i, r] of results.entries()) {
    const c = cameras[i];
    if (c === undefined) continue;
    const n = c.feed.counters;
    say(`camera ${c.gatewayId}: ${n.framesShown} frames shown (${n.framesLate} late, ${n.picturesDropped} dropped for a slow reader), ${c.truth().length} defective parts left the view by ${r.cut === null ? 'the end' : `frame ${r.cut.frame}`}`);
    if (r.problem !== null) say(r.problem);
  }
}

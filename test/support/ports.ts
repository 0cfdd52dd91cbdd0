import { readFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';

/**
 * Listens on 127.0.0.1 port 0 and returns the port the system chose. A server the test
 * starts itself binds this way: there is no moment at which another process can take its port.
 */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (addr === null || typeof addr !== 'object') throw new Error('the server reports no TCP address');
  return addr.port;
}

/** Linux's ephemeral range (where listen(0) and outgoing connections take their ports); the kernel default if unreadable. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo as number, hi as number];
  } catch {
    // not Linux: fall through
  }
  return [32768, 60999];
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for the cases where the port must be
 * known before its server exists (a gateway configured for a broker that starts later, or
 * never; Mosquitto and PostgreSQL, which cannot bind port 0 and say which port they got).
 * Anything the test starts itself should bind port 0 instead (`listenOnLoopback`).
 *
 * The port is picked below the ephemeral range on purpose. Ports inside it are what the
 * kernel hands to every listen(0) and every outgoing connection on the machine (other test
 * files, other engineers' runs): one of those could take "our" port before our server
 * binds it, and a gateway that keeps reconnecting to a port with nothing on it can even
 * connect to itself (TCP simultaneous open) when its own local port happens to be that one.
 * Below the range only another `freePort` can pick the same port, one chance in thousands.
 */
export async function freePort(): Promise<number> {
  const [lo] = ephemeralRange();
  const top = lo - 1;
  const bottom = Math.max(10_000, top - 12_000);
  if (top > bottom) {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const port = bottom + Math.floor(Math.random() * (top - bottom + 1));
      if (await bindable(port)) return port;
    }
  }
  // No room below the ephemeral range (an unusual sysctl): a port the kernel chose.
  const probe = createServer();
  const port = await listenOnLoopback(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

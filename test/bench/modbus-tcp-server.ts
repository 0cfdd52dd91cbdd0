import { fork } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * A minimal Modbus TCP server for `npm run bench -- modbus`, in its own process: it answers
 * FC 3 and 4 for any unit and address with register i holding `i & 0xffff`, and nothing else
 * (exception 1). The bench measures the client side; pymodbus (Python) spends about as much
 * CPU a request as the client, so on a 2-core box its share of the cores, not the client's
 * work, decided the rate. This server costs a few microseconds a request.
 */
function answer(frame: Buffer): Buffer {
  const tid = frame.readUInt16BE(0);
  const unit = frame[6] as number;
  const fc = frame[7] as number;
  const count = frame.length >= 12 ? frame.readUInt16BE(10) : 0;
  if ((fc === 3 || fc === 4) && count >= 1 && count <= 125) {
    const address = frame.readUInt16BE(8);
    const out = Buffer.allocUnsafe(9 + 2 * count);
    out.writeUInt16BE(tid, 0);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(3 + 2 * count, 4);
    out[6] = unit;
    out[7] = fc;
    out[8] = 2 * count;
    for (let i = 0; i < count; i += 1) out.writeUInt16BE((address + i) & 0xffff, 9 + 2 * i);
    return out;
  }
  const out = Buffer.alloc(9);
  out.writeUInt16BE(tid, 0);
  out.writeUInt16BE(3, 4);
  out[6] = unit;
  out[7] = fc | 0x80;
  out[8] = fc === 3 || fc === 4 ? 3 : 1;
  return out;
}

function serve(): void {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // MBAP: transaction (2), protocol (2), length (2) of what follows: unit id + PDU.
      while (pending.length >= 8) {
        const size = 6 + pending.readUInt16BE(4);
        if (size > 260) return void socket.destroy();
        if (pending.length < size) break;
        socket.write(answer(pending.subarray(0, size)));
        pending = pending.subarray(size);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('disconnect', () => process.exit(0));
}

export interface ModbusTcpServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts the server in a child process on a free port of 127.0.0.1. */
export function startModbusTcpServer(): Promise<ModbusTcpServer> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the Modbus TCP bench server exited (${code}) before listening`)));
    child.once('message', (m) => {
      const port = (m as { port?: unknown }).port;
      if (typeof port !== 'number') return reject(new Error('the Modbus TCP bench server sent no port'));
      resolve({
        port,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

if (process.argv[2] === '--serve' && fileURLToPath(import.meta.url) === process.argv[1]) serve();

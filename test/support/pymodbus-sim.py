#!/usr/bin/python3
"""Modbus slaves for edgewise's tests, on Debian's python3-pymodbus 3.0.0 (bookworm): an outside
implementation of Modbus RTU and TCP. Run with /usr/bin/python3 (a pyenv `python3` may not see it).

usage: pymodbus-sim.py [--serial PTY --baud 19200 --parity N --stopbits 1] [--tcp 127.0.0.1:PORT] [--map FILE]

--map: JSON {"slaves": {"1": {"holding": [words from address 0], "input": [...], "coils": [bools], "discrete": [...]}, ...}}.
Without it: slaves 1, 2, 3 with the map of the issue-20 research (every type in ABCD at 0, CDAB at 20, BADC at 40,
DCBA at 60; HR100 = unit id; IR i = 1000 + 10 * unit + i; coil i = i odd; discrete i = i multiple of 3).

Faults, one command a line on stdin, each answered with "ok <command>" on stdout once in force:
  silent U      unit U stops answering (as a dead slave on RS-485); `answer U` brings it back
  badcrc U      unit U's RTU replies carry a broken CRC; `goodcrc U` ends it
  late U MS     unit U's next reply goes out MS ms late (the server is blocked meanwhile, as a shared line is)
Prints "ready <version>" once the serial port is open (TCP: the test waits until it accepts connections); "request U FC" for every request it answers (after the fault rules).
"""
import argparse, asyncio, json, logging, struct, sys, time
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer
from pymodbus.version import version

VALUES = [(">h", -1234), (">H", 54321), (">i", -123456789), (">I", 3000000000), (">f", 3.14159), (">d", -2.718281828459045)]
ORDERS = {"ABCD": 0, "CDAB": 20, "BADC": 40, "DCBA": 60}

def words(fmt, v, order):
    b = struct.pack(fmt, v)
    w = [b[i:i + 2] for i in range(0, len(b), 2)]
    if order in ("CDAB", "DCBA"): w = w[::-1]
    if order in ("BADC", "DCBA"): w = [x[::-1] for x in w]
    return [int.from_bytes(x, "big") for x in w]

def default_slave(unit):
    hr = [0] * 200
    for order, base in ORDERS.items():
        a = base
        for fmt, v in VALUES:
            ws = words(fmt, v, order)
            hr[a:a + len(ws)] = ws
            a += len(ws)
    hr[100] = unit
    return {"holding": hr, "input": [1000 + unit * 10 + i for i in range(50)],
            "coils": [bool(i % 2) for i in range(64)], "discrete": [i % 3 == 0 for i in range(64)]}

def context(tables):
    block = lambda key, fill: ModbusSequentialDataBlock(0, list(tables.get(key) or [fill]))
    # zero_mode: without it pymodbus 3.0 serves address + 1
    return ModbusSlaveContext(hr=block("holding", 0), ir=block("input", 0), co=block("coils", False),
                              di=block("discrete", False), zero_mode=True)

async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--serial"); p.add_argument("--baud", type=int, default=19200)
    p.add_argument("--parity", default="N"); p.add_argument("--stopbits", type=int, default=1)
    p.add_argument("--tcp"); p.add_argument("--map")
    a = p.parse_args()
    if a.map:
        with open(a.map) as f: spec = {int(u): t for u, t in json.load(f)["slaves"].items()}
    else:
        spec = {u: default_slave(u) for u in (1, 2, 3)}
    slaves = {u: context(t) for u, t in spec.items()}
    ctx = ModbusServerContext(slaves=dict(slaves), single=False)  # its own dict: removing a unit must not lose it
    bad_crc, late = set(), {}
    rtu = ModbusRtuFramer(None)

    def manipulator(serial):
        def manipulate(response):
            unit = response.unit_id
            delay = late.pop(unit, 0)
            if delay: time.sleep(delay / 1000)  # blocks the loop: a slow slave holds a shared line
            print("request", unit, response.function_code, flush=True)
            if serial and unit in bad_crc:  # TCP has no CRC
                frame = bytearray(rtu.buildPacket(response)); frame[-1] ^= 0xFF
                return bytes(frame), True  # skip_encoding: sent as it is
            return response, False
        return manipulate

    def command(line):
        words_ = line.split()
        if not words_: return
        op, unit = words_[0], int(words_[1])
        if op == "silent":
            if unit in ctx: del ctx[unit]
        elif op == "answer": ctx[unit] = slaves[unit]
        elif op == "badcrc": bad_crc.add(unit)
        elif op == "goodcrc": bad_crc.discard(unit)
        elif op == "late": late[unit] = int(words_[2])
        else:
            print("error unknown command", line, flush=True); return
        print("ok", line, flush=True)

    loop = asyncio.get_running_loop()
    def on_stdin():
        line = sys.stdin.readline()
        if line == "": loop.stop(); return  # the test went away: so do we
        command(line.strip())
    loop.add_reader(sys.stdin.fileno(), on_stdin)
    serving = []
    if a.serial:
        server = await StartAsyncSerialServer(context=ctx, framer=ModbusRtuFramer, port=a.serial, baudrate=a.baud,
            parity=a.parity, stopbits=a.stopbits, bytesize=8, ignore_missing_slaves=True,
            response_manipulator=manipulator(True), defer_start=True)
        await server.start()  # opens the pty: once it returns, requests are answered
        if server.transport is None:
            print("error cannot open", a.serial, flush=True); sys.exit(2)
        serving.append(server.serve_forever())
    if a.tcp:
        host, port = a.tcp.rsplit(":", 1)
        server = await StartAsyncTcpServer(context=ctx, framer=ModbusSocketFramer, address=(host, int(port)),
            ignore_missing_slaves=True, response_manipulator=manipulator(False), defer_start=True,
            allow_reuse_address=True)  # a restart binds the port again while the old connections sit in TIME_WAIT
        serving.append(server.serve_forever())  # listening is seen from outside (the rig connects)
    print("ready", version.short(), flush=True)
    await asyncio.gather(*serving)

logging.basicConfig(level=logging.CRITICAL)
try:
    asyncio.run(main())
except RuntimeError:
    pass  # loop stopped on stdin EOF

#!/usr/bin/python3
"""Lays values out in Modbus registers with pymodbus's BinaryPayloadBuilder (Debian python3-pymodbus 3.0.0).

Reads JSON from stdin: [{"type": "float32", "order": "CDAB", "value": 123.456}, ...]
and writes JSON to stdout: the list of register lists, one per input, in the same order.
ABCD = byteorder Big, wordorder Big; CDAB = wordorder Little; BADC = byteorder Little; DCBA = both Little.
With --vectors it prints the known-vector file (word-order-vectors.json) instead.
Run with /usr/bin/python3 (the pyenv python3 on PATH does not see Debian's dist-packages).
"""
import json, sys
from pymodbus.constants import Endian
from pymodbus.payload import BinaryPayloadBuilder
from pymodbus.version import version

ADD = {"int16": "add_16bit_int", "uint16": "add_16bit_uint", "int32": "add_32bit_int", "uint32": "add_32bit_uint",
       "float32": "add_32bit_float", "float64": "add_64bit_float"}

def registers(type_, order, value):
    b = BinaryPayloadBuilder(byteorder=Endian.Little if order in ("BADC", "DCBA") else Endian.Big,
                             wordorder=Endian.Little if order in ("CDAB", "DCBA") else Endian.Big)
    getattr(b, ADD[type_])(value)
    return b.to_registers()

if "--vectors" in sys.argv:
    values = [("int16", -1234), ("uint16", 54321), ("int32", -123456789), ("uint32", 3000000000),
              ("float32", 123.456), ("float32", 3.14159), ("float64", -2.718281828459045), ("float64", 123.456)]
    out = [{"type": t, "order": o, "value": v, "registers": registers(t, o, v)}
           for t, v in values for o in ("ABCD", "CDAB", "BADC", "DCBA")]
    head = {"generator": "test/devices/modbus/pymodbus-payload.py --vectors", "pymodbus": version.short()}
    print(json.dumps(head)[:-1] + ', "vectors": [\n' + ",\n".join("  " + json.dumps(v) for v in out) + "\n]}")
else:
    print(json.dumps([registers(x["type"], x["order"], x["value"]) for x in json.load(sys.stdin)]))

#!/usr/bin/env node
// Makes sure the Debian programs (and Python modules) the tests drive are installed. `npm test` runs this first,
// so no test ever skips because a program is missing: as root it installs them with
// apt-get; otherwise it stops and prints the exact line to run. With `--sim` it checks only what
// the simulator needs (`npm start` runs it so): the programs marked `sim`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * What the tests need -> Debian package: a program (`path`), a module of Debian's Python
 * (`python`, checked with `/usr/bin/python3 -c 'import ...'`, as the suite's run script does),
 * a GObject-introspection namespace (`gir`, imported through python3-gi) or a GStreamer
 * element (`gst`, looked up through python3-gi). Add a line when a test starts to need one.
 */
const PROGRAMS = [
  { path: '/usr/sbin/mosquitto', pkg: 'mosquitto', why: 'MQTT broker for the delivery tests' },
  { path: '/usr/bin/mosquitto_passwd', pkg: 'mosquitto', why: 'password file for the TLS/login test' },
  { path: '/usr/bin/openssl', pkg: 'openssl', why: 'certificates for the TLS test' },
  { path: '/usr/bin/socat', pkg: 'socat', why: 'pseudo-terminal pairs for the serial links (tests and the simulator)', sim: true },
  { path: '/usr/lib/postgresql/15/bin/initdb', pkg: 'postgresql', why: 'a throwaway PostgreSQL for the fleet database tests' },
  { path: '/usr/lib/postgresql/15/bin/pg_ctl', pkg: 'postgresql', why: 'starts and stops that PostgreSQL' },
  { path: '/usr/bin/systemd-analyze', pkg: 'systemd', why: 'verifies the unit edgewise install writes (works without systemd as PID 1)' },
  // The watchdog test hangs the gateway's disk for real: an ext4 image on a loop device, frozen with fsfreeze.
  { path: '/usr/sbin/mkfs.ext4', pkg: 'e2fsprogs', why: 'makes the small filesystem the watchdog test freezes' },
  { path: '/usr/sbin/fsfreeze', pkg: 'util-linux', why: 'freezes that filesystem, so the gateway\'s store hangs as on a dying disk' },
  { path: '/usr/bin/perl', pkg: 'perl-base', why: 'the sd_notify helper the gateway runs under systemd (Essential on Debian; here for completeness)' },
  { path: '/usr/bin/python3', pkg: 'python3', why: 'holds the NOTIFY_SOCKET datagram socket in the sd_notify tests (Node cannot receive unix datagrams)' },
  { path: '/usr/bin/setpriv', pkg: 'util-linux', why: 'runs edgewise install as a user who is not root, to see it refuse' },
  // The TUF conformance suite (third_party/tuf-conformance) and its harness.
  { python: 'pytest', pkg: 'python3-pytest', why: 'runs the TUF conformance suite' },
  { python: 'pytest_timeout', pkg: 'python3-pytest-timeout', why: 'per-test timeouts of the TUF conformance suite' },
  { python: 'cryptography', pkg: 'python3-cryptography', why: 'signs the TUF conformance suite\'s repositories' },
  { python: 'requests', pkg: 'python3-requests', why: 'HTTP in the TUF conformance suite' },
  { python: 'urllib3', pkg: 'python3-urllib3', why: 'HTTP in the TUF conformance suite' },
  // The Modbus tests poll Debian's pymodbus (test/support/pymodbus-sim.py) over a socat pty pair and TCP.
  { python: 'pymodbus', pkg: 'python3-pymodbus', why: 'the Modbus RTU/TCP slaves the Modbus source is tested against' },
  { python: 'serial_asyncio', pkg: 'python3-serial-asyncio', why: "pymodbus's server imports it (and pyserial), a Recommends of python3-pymodbus that --no-install-recommends leaves out" },
  { path: '/usr/bin/faketime', pkg: 'faketime', why: 'runs the client under test at another time in the TUF conformance suite' },
  { path: '/usr/bin/ffmpeg', pkg: 'ffmpeg', why: 'muxes and encodes the camera tests\' MP4, H.265 and MPEG-4 clips' },
  // The dataset readers' tests decode images other programs wrote, as users' photos are.
  { path: '/usr/bin/jpegtran', pkg: 'libjpeg-turbo-progs', why: 'writes the progressive JPEG the image decoder is tested on' },
  { path: '/usr/bin/cjpeg', pkg: 'libjpeg-turbo-progs', why: 'writes the grey JPEG the image decoder is tested on' },
  { path: '/usr/bin/exiftool', pkg: 'libimage-exiftool-perl', why: 'sets the EXIF orientation of the JPEGs the image decoder is tested on' },
  // The RTSP server the camera tests play from: GStreamer's gst-rtsp-server, driven from Python (test/support/rtsp-server.py).
  { python: 'gi', pkg: 'python3-gi', why: 'runs GStreamer\'s RTSP server for the RTSP camera tests' },
  { gir: 'GstRtspServer', pkg: 'gir1.2-gst-rtsp-server-1.0', why: 'GStreamer\'s RTSP server, for the RTSP camera tests' },
  { gst: 'appsrc', pkg: 'gstreamer1.0-plugins-base', why: 'feeds the test clip into the RTSP server' },
  { gst: 'rtph264pay', pkg: 'gstreamer1.0-plugins-good', why: 'H.264 RTP packetizer of the RTSP server' },
  // The console's end-to-end tests and its bench drive Debian's Chromium headless through playwright-core.
  { path: '/usr/lib/chromium/chromium', pkg: 'chromium', why: 'the headless browser of the console tests' },
  { gst: 'h264parse', pkg: 'gstreamer1.0-plugins-bad', why: 'H.264 parser in front of that packetizer' },
  // The arm64 smoke test (test/install/arm64-smoke.test.ts) runs edgewise's arm64 build under qemu-user,
  // with Debian's arm64 C and C++ runtime as the sysroot (qemu-aarch64-static -L /usr/aarch64-linux-gnu).
  { path: '/usr/bin/qemu-aarch64-static', pkg: 'qemu-user-static', why: 'runs arm64 Node.js on this x64 box for the arm64 smoke test' },
  { path: '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1', pkg: 'libc6-arm64-cross', why: 'the arm64 C library of the arm64 smoke test' },
  { path: '/usr/aarch64-linux-gnu/lib/libstdc++.so.6', pkg: 'libstdc++6-arm64-cross', why: 'the arm64 C++ library onnxruntime and LevelDB need in the arm64 smoke test' },
  { path: '/usr/aarch64-linux-gnu/lib/libgcc_s.so.1', pkg: 'libgcc-s1-arm64-cross', why: 'the arm64 libgcc of the arm64 smoke test' },
];

const PYTHON = '/usr/bin/python3';
/** Whether the thing is there: the program exists, or Debian's Python imports the module. */
function present(p) {
  if (p.path !== undefined) return existsSync(p.path);
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', pythonCheck(p)], { stdio: 'ignore' }).status === 0;
}
function pythonCheck(p) {
  if (p.python !== undefined) return `import ${p.python}`;
  if (p.gir !== undefined) return `import gi; gi.require_version('${p.gir}', '1.0'); from gi.repository import ${p.gir}`;
  return `import sys, gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst; Gst.init(None); sys.exit(0 if Gst.ElementFactory.find('${p.gst}') else 1)`;
}
const what = (p) => (p.path !== undefined ? p.path : p.python !== undefined ? `the Python module ${p.python}` : p.gir !== undefined ? `the GObject namespace ${p.gir}-1.0` : `the GStreamer element ${p.gst}`);

const forSim = process.argv.includes('--sim');
const who = forSim ? 'the simulator needs' : 'tests need';
const missing = PROGRAMS.filter((p) => (!forSim || p.sim === true) && !present(p));
if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((p) => p.pkg))];
const line = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
for (const p of missing) console.error(`${who} ${what(p)} (${p.why}), from the Debian package ${p.pkg}`);

if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
  console.error(`\nnot root, so not installing. Run:\n\n  sudo sh -c '${line}'\n`);
  process.exit(1);
}

console.error(`installing: ${pkgs.join(' ')}`);
// policy-rc.d keeps the packages' services from starting: tests run their own instances.
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
const result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
if (result.status !== 0) {
  console.error(`apt-get install failed (exit ${result.status}); run by hand:\n\n  ${line}\n`);
  process.exit(1);
}
const still = missing.filter((p) => !present(p));
if (still.length > 0) {
  console.error(`installed, but still missing: ${still.map(what).join(', ')}`);
  process.exit(1);
}
console.error(forSim ? 'simulator programs ready' : 'test programs ready');

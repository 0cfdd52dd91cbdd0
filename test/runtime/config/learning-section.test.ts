import { describe, expect, it } from 'vitest';
import { parseConfig, type GatewayConfig } from '../../../runtime/config/load.js';
import { ConfigError } from '../../../runtime/errors.js';
import { builtinRegistry } from '../../../runtime/plugins.js';

const head = 'gateway:\n  id: gw-1\n  dataDir: /tmp/edgewise-never-opened\nuplink:\n  url: mqtt://127.0.0.1:1\n';
const updates = 'updates:\n  metadataUrl: http://127.0.0.1:1/metadata\n  targetBaseUrl: http://127.0.0.1:1/targets\n  rootFile: root.json\n';

function parse(yaml: string): { problems: string[]; learning?: GatewayConfig['learning'] } {
  try {
    return { problems: [], learning: parseConfig(yaml, 'test.yaml', builtinRegistry()).learning };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: [...err.problems] };
    throw err;
  }
}

describe('the learning section', () => {
  it('is off unless enabled, and enabled takes its defaults', () => {
    expect(parse(head)).toEqual({ problems: [], learning: null });
    expect(parse(`${head}${updates}learning: { enabled: false, reservoirWindows: 128 }\n`)).toEqual({ problems: [], learning: null });
    expect(parse(`${head}${updates}learning: { enabled: true }\n`)).toEqual({ problems: [], learning: { reservoirWindows: 2048, heldOutShare: 0.2, maxChunkBytes: 65536 } });
    expect(parse(`${head}${updates}learning: { enabled: true, reservoirWindows: 512, heldOutShare: 0, maxChunkBytes: 1024 }\n`).learning).toEqual({ reservoirWindows: 512, heldOutShare: 0, maxChunkBytes: 1024 });
  });

  it('is refused at --check without an updates section, with bounds out of range, and with unknown keys', () => {
    expect(parse(`${head}learning: { enabled: true }\n`).problems).toEqual([expect.stringMatching(/^learning\.enabled: expected an `updates` section .*got a config without one/)]);
    expect(parse(`${head}${updates}learning: { enabled: true, heldOutShare: 0.9 }\n`).problems).toEqual([expect.stringMatching(/^learning\.heldOutShare: expected a number <= 0\.5, got 0\.9/)]);
    expect(parse(`${head}${updates}learning: { enabled: true, reservoirWindows: 8 }\n`).problems).toEqual([expect.stringMatching(/^learning\.reservoirWindows: expected an integer >= 64, got 8/)]);
    expect(parse(`${head}${updates}learning: { enabled: true, maxChunkBytes: 100000 }\n`).problems).toEqual([expect.stringMatching(/^learning\.maxChunkBytes: /)]);
    expect(parse(`${head}${updates}learning: { enable: true }\n`).problems).toEqual([expect.stringMatching(/^learning\.enable: expected a known key, got unknown key "enable"; did you mean "enabled"\?/)]);
  });
});

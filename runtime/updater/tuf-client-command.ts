import { TrustClient, initTrust } from './trust.js';

export interface TufClientOptions {
  readonly metadataDir?: string;
  readonly metadataUrl?: string;
  readonly targetName: readonly string[];
  readonly targetBaseUrl?: string;
  readonly targetDir?: string;
}

/**
 * `edgewise tuf-client`: the client-under-test protocol of the tuf-conformance suite, on the
 * gateway's own trust code. Exit 0 on success, 1 on any failure (the reason on stderr).
 */
export async function runTufClient(action: string, arg: string | undefined, o: TufClientOptions): Promise<number> {
  try {
    if (o.metadataDir === undefined) throw new Error('--metadata-dir is required');
    if (action === 'init') {
      if (arg === undefined) throw new Error('init needs the trusted root file');
      await initTrust(o.metadataDir, arg);
      return 0;
    }
    if (o.metadataUrl === undefined) throw new Error(`${action} needs --metadata-url`);
    if (action === 'refresh') {
      await new TrustClient({ metadataDir: o.metadataDir, metadataUrl: o.metadataUrl }).refresh();
      return 0;
    }
    if (action === 'download') {
      if (o.targetBaseUrl === undefined || o.targetDir === undefined || o.targetName.length === 0) throw new Error('download needs --target-name, --target-base-url and --target-dir');
      // One client for all targets, in argument order.
      const client = new TrustClient({ metadataDir: o.metadataDir, metadataUrl: o.metadataUrl, targetBaseUrl: o.targetBaseUrl, targetDir: o.targetDir });
      await client.refresh();
      for (const name of o.targetName) await client.download(await client.target(name));
      return 0;
    }
    throw new Error(`unknown action ${JSON.stringify(action)} (init, refresh or download)`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    process.stderr.write(`edgewise tuf-client: ${code === undefined ? '' : `${code}: `}${(err as Error).message}\n`);
    return 1;
  }
}

import { stringify } from 'yaml';
import type { ProvisionResult } from './registry.js';

/** What a provisioned gateway needs to know of the fleet, besides its own credentials. */
export interface ProvisioningContext {
  /** The broker URL gateways connect to (as they can reach it, not necessarily as the fleet binds it). */
  readonly brokerUrl: string;
  /** Signed model updates: where the TUF repository is served, when the fleet has one. */
  readonly updates?: { readonly metadataUrl: string; readonly targetBaseUrl: string } | undefined;
}

/** Where the gateway will find the files that go with its config section. */
export interface ProvisionedFiles {
  /** A file holding the MQTT password; without one, the password goes inline. */
  readonly passwordFile?: string;
  /** The pinned TUF root (`updates.rootFile`). */
  readonly rootFile?: string;
}

/**
 * The `uplink` (and, with a TUF repository, `updates`) sections of a gateway config for a
 * freshly provisioned gateway, as YAML to paste into its config file.
 */
export function gatewayConfigSection(result: ProvisionResult, ctx: ProvisioningContext, files: ProvisionedFiles = {}): string {
  const uplink: Record<string, unknown> = {
    url: ctx.brokerUrl,
    clientId: result.clientId,
    username: result.username,
    ...(files.passwordFile === undefined ? { password: result.password } : { passwordFile: files.passwordFile }),
  };
  const doc: Record<string, unknown> = { uplink };
  if (ctx.updates !== undefined) {
    doc['updates'] = { metadataUrl: ctx.updates.metadataUrl, targetBaseUrl: ctx.updates.targetBaseUrl, rootFile: files.rootFile ?? 'root.json', models: [] };
  }
  return `# edgewise gateway ${result.username}: merge into its config (gateway.id must be ${result.username})\n${stringify(doc)}`;
}

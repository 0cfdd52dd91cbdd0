import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseNodeId } from './node-id.js';
import type { BrowseDescriptionLike, BrowseResult as UaBrowseResult, ClientSession, NodeId, OPCUAClient, ReferenceDescription, UserIdentityInfoUserName } from 'node-opcua-client';

/**
 * `edgewise opcua browse`: walks a server's address space from the Objects folder (or a given
 * node) and says, for each variable, what a config item needs: its node id, data type, value
 * rank, access level and engineering units. Output is in browse-output.ts.
 *
 * node-opcua is imported here only when a browse runs (it adds about 62 MB of RSS and 0.6 s
 * to load: research §2.2); this module's own imports are types.
 */

export type SecurityModeName = 'None' | 'Sign' | 'SignAndEncrypt';
export const SECURITY_MODES: readonly SecurityModeName[] = ['None', 'Sign', 'SignAndEncrypt'];
/** The policies node-opcua 2.182 supports on Node 20 without --security-revert (research §2.1). */
export const SECURITY_POLICIES = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;
export type SecurityPolicyName = (typeof SECURITY_POLICIES)[number];

export interface BrowseOptions {
  readonly url: string;
  /** Where to start (a node id as text); the Objects folder when absent. */
  readonly node?: string;
  /** Levels of references below the start node that are followed. */
  readonly depth: number;
  /** Nodes listed at most; the walk stops there and says so. */
  readonly maxNodes: number;
  readonly security: SecurityModeName;
  readonly policy: SecurityPolicyName;
  /** The client's PKI folder (own certificate, trusted/, rejected/), created on first use. */
  readonly pkiDir: string;
  readonly user?: { readonly name: string; readonly password: string };
  /** For the connection and for each request. */
  readonly timeoutMs: number;
  /** The client's application name; its certificate's application URI is made from it and the host name. */
  readonly applicationName: string;
}

/** Added to the connect timeout while the client certificate does not exist yet. */
const FIRST_USE_EXTRA_MS = 60_000;

export const BROWSE_DEFAULTS = { depth: 3, maxNodes: 2000, security: 'None', policy: 'Basic256Sha256', timeoutMs: 10_000, applicationName: 'edgewise-browse' } as const;

export type BrowseErrorCode = 'E_OPCUA_USAGE' | 'E_OPCUA_NODE_ID' | 'E_OPCUA_NODE_UNKNOWN' | 'E_OPCUA_UNREACHABLE' | 'E_OPCUA_UNTRUSTED_SERVER' | 'E_OPCUA_USER_REFUSED' | 'E_OPCUA_SECURITY' | 'E_OPCUA_SECURITY_CHECKS' | 'E_OPCUA_TIMEOUT' | 'E_OPCUA_BROWSE';

export class OpcuaBrowseError extends Error {
  constructor(
    readonly code: BrowseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OpcuaBrowseError';
  }

  /** 2 for what the operator typed (a node id, a file), 1 for what happened on the way (network, trust, the server). */
  get exitCode(): number {
    return this.code === 'E_OPCUA_USAGE' || this.code === 'E_OPCUA_NODE_ID' || this.code === 'E_OPCUA_NODE_UNKNOWN' ? 2 : 1;
  }
}

export type NodeClassName = 'Object' | 'Variable' | 'Method' | 'ObjectType' | 'VariableType' | 'ReferenceType' | 'DataType' | 'View' | 'Unspecified';

export interface BrowsedNode {
  readonly nodeId: string;
  readonly browseName: string;
  readonly displayName: string;
  readonly nodeClass: NodeClassName;
  readonly children: BrowsedNode[];
  /** Objects at the depth limit are listed but not browsed. */
  notBrowsed: boolean;
  dataType?: string;
  /** -1 scalar, 1 one-dimensional array, n > 1 n dimensions, -2 any, -3 scalar or 1-D, 0 one or more dimensions. */
  valueRank?: number;
  /** AccessLevel bits: 1 CurrentRead, 2 CurrentWrite, 4 HistoryRead, 8 HistoryWrite. */
  accessLevel?: number;
  /** EngineeringUnits' display name (else its description), from the variable's property. */
  unit?: string;
  /** EURange, from the variable's property. */
  range?: { readonly low: number; readonly high: number };
}

export interface BrowseTree {
  readonly url: string;
  readonly root: BrowsedNode;
  readonly nodeCount: number;
  /** The walk stopped at maxNodes. */
  readonly truncated: boolean;
  /** Children of the Objects folder left out because they belong to the OPC UA namespace (the Server object: its diagnostics). */
  readonly skipped: readonly BrowsedNode[];
}

const NODE_ID_FORMS = 'ns=2;s=Line1.Temperature, ns=3;i=1001, i=85, ns=2;g=<GUID>, ns=2;b=<base64>, nsu=<namespace URI>;s=Name, or a standard name such as ObjectsFolder';

/**
 * `nsu=URI;rest` is resolved once the server's namespace table is known; everything else is
 * checked before any connection, by the parser `--check` uses for the source's items
 * (node-id.ts), so a node id browse takes is one the config takes. A bare standard name
 * (ObjectsFolder, Server) is node-opcua's to resolve.
 */
export function checkNodeIdText(text: string, coerce: (s: string) => NodeId): { readonly nsu: string; readonly rest: string } | NodeId {
  if (/^[A-Za-z]\w*$/.test(text)) return coerceOrThrow(text, 'not a standard node name', coerce);
  const parsed = parseNodeId(text);
  if (!parsed.ok) throw notANodeId(text, parsed.reason);
  if (parsed.id.namespaceUri !== null) return { nsu: parsed.id.namespaceUri, rest: `${parsed.id.kind}=${parsed.id.value}` };
  return coerceOrThrow(text, 'node-opcua does not take it', coerce);
}

function notANodeId(text: string, why: string): OpcuaBrowseError {
  return new OpcuaBrowseError('E_OPCUA_NODE_ID', `--node: "${text}" is not a node id: ${why} (expected ${NODE_ID_FORMS})`);
}

function coerceOrThrow(text: string, why: string, coerce: (s: string) => NodeId): NodeId {
  try {
    return coerce(text);
  } catch {
    throw notANodeId(text, why);
  }
}

/** Browses `opts.url` and returns the tree; every connection it opened is closed when it returns or throws. */
export async function browseOpcua(opts: BrowseOptions): Promise<BrowseTree> {
  const ua = await import('node-opcua-client');
  const coerce = (s: string): NodeId => (/^[A-Za-z]\w*$/.test(s) ? ua.resolveNodeId(s) : ua.coerceNodeId(s));
  const start = opts.node === undefined ? ua.resolveNodeId('ObjectsFolder') : checkNodeIdText(opts.node, coerce);
  const { OPCUACertificateManager } = await import('node-opcua-certificate-manager');
  const certificateManager = new OPCUACertificateManager({ rootFolder: opts.pkiDir, automaticallyAcceptUnknownCertificate: false });
  const client = ua.OPCUAClient.create({
    applicationName: opts.applicationName,
    clientCertificateManager: certificateManager,
    securityMode: ua.MessageSecurityMode[opts.security],
    securityPolicy: opts.security === 'None' ? ua.SecurityPolicy.None : ua.SecurityPolicy[opts.policy],
    // A server advertises its own host name, which 127.0.0.1 or an IP address typed here does not match (research §2.3).
    endpointMustExist: false,
    // One attempt: the default retries forever and an operator at a prompt wants the reason now.
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    keepSessionAlive: false,
    requestedSessionTimeout: 60_000,
  });
  const rejectedBefore = listRejected(opts.pkiDir);
  let session: ClientSession | undefined;
  try {
    // On first use the client makes its certificate inside connect(): 1-3 s of CPU, much more on a loaded machine.
    const firstUse = !existsSync(join(opts.pkiDir, 'own', 'certs', 'client_certificate.pem'));
    await withTimeout(client.connect(opts.url), opts.timeoutMs + (firstUse ? FIRST_USE_EXTRA_MS : 0), `connecting to ${opts.url}${firstUse ? ` (and making the client certificate in ${opts.pkiDir})` : ''}`);
    const identity: UserIdentityInfoUserName | undefined = opts.user === undefined ? undefined : { type: ua.UserTokenType.UserName, userName: opts.user.name, password: opts.user.password };
    session = await withTimeout(identity === undefined ? client.createSession() : client.createSession(identity), opts.timeoutMs, 'creating a session');
    session.requestedMaxReferencesPerNode = 1000;
    const startId = 'nsu' in start ? await resolveNsu(session, start, opts, coerce) : start;
    return await walk(session, ua, startId, opts);
  } catch (err) {
    if (err instanceof OpcuaBrowseError) throw err;
    throw explainConnectError(err, opts, rejectedBefore);
  } finally {
    if (session !== undefined) await withTimeout(session.close(), 2_000, 'closing the session').catch(() => undefined);
    await closeClient(client);
    await certificateManager.dispose().catch(() => undefined);
  }
}

async function closeClient(client: OPCUAClient): Promise<void> {
  await withTimeout(client.disconnect(), 2_000, 'disconnecting').catch(() => undefined);
}

async function resolveNsu(session: ClientSession, start: { readonly nsu: string; readonly rest: string }, opts: BrowseOptions, coerce: (s: string) => NodeId): Promise<NodeId> {
  const namespaces = await withTimeout(session.readNamespaceArray(), opts.timeoutMs, 'reading the namespace array');
  const index = namespaces.indexOf(start.nsu);
  if (index < 0) throw new OpcuaBrowseError('E_OPCUA_NODE_UNKNOWN', `--node: the server has no namespace "${start.nsu}"; it has: ${namespaces.map((n, i) => `${i} ${n}`).join(', ')}`);
  return coerce(`ns=${index};${start.rest}`);
}

type Ua = typeof import('node-opcua-client');

interface Pending {
  readonly node: BrowsedNode;
  readonly depth: number;
  /** A variable at the depth limit: only its properties (units) are read, its other children are not listed. */
  readonly propertiesOnly: boolean;
}

/** HasProperty (i=46): a variable's properties are folded into its line (EngineeringUnits, EURange), not listed. */
const HAS_PROPERTY = 'ns=0;i=46';
const BATCH = 100;

async function walk(session: ClientSession, ua: Ua, startId: NodeId, opts: BrowseOptions): Promise<BrowseTree> {
  const head = await readHead(session, ua, startId, opts);
  const root: BrowsedNode = { ...head, children: [], notBrowsed: false };
  const objectsFolder = opts.node === undefined;
  const skipped: BrowsedNode[] = [];
  const variables: BrowsedNode[] = root.nodeClass === 'Variable' ? [root] : [];
  const properties = new Map<BrowsedNode, { unit?: string; range?: string }>();
  let count = 1;
  let truncated = false;
  let level: Pending[] = [{ node: root, depth: 0, propertiesOnly: opts.depth === 0 }];
  while (level.length > 0 && !truncated) {
    const next: Pending[] = [];
    for (let i = 0; i < level.length && !truncated; i += BATCH) {
      const batch = level.slice(i, i + BATCH);
      const results = await browseAll(session, ua, batch.map((p) => p.node.nodeId), opts);
      for (const [k, refs] of results.entries()) {
        const parent = batch[k] as Pending;
        for (const ref of refs) {
          const child = fromReference(ua, ref);
          if (parent.node.nodeClass === 'Variable' && ref.referenceTypeId.toString() === HAS_PROPERTY) {
            if (child.browseName === 'EngineeringUnits' || child.browseName === 'EURange') {
              const slot = properties.get(parent.node) ?? {};
              slot[child.browseName === 'EngineeringUnits' ? 'unit' : 'range'] = child.nodeId;
              properties.set(parent.node, slot);
            }
            continue;
          }
          if (parent.propertiesOnly) continue;
          if (objectsFolder && parent.depth === 0 && child.nodeId.startsWith('ns=0;')) {
            skipped.push(child);
            continue;
          }
          if (count >= opts.maxNodes) {
            truncated = true;
            break;
          }
          count += 1;
          parent.node.children.push(child);
          if (child.nodeClass === 'Variable') variables.push(child);
          // A variable's properties are read at any depth: they carry its units.
          const inDepth = parent.depth + 1 < opts.depth;
          if (inDepth || child.nodeClass === 'Variable') next.push({ node: child, depth: parent.depth + 1, propertiesOnly: !inDepth });
          else if (child.nodeClass === 'Object') child.notBrowsed = true;
        }
        if (truncated) break;
      }
    }
    level = next;
  }
  await readVariableAttributes(session, ua, variables, properties, opts);
  return { url: opts.url, root, nodeCount: count, truncated, skipped };
}

async function readHead(session: ClientSession, ua: Ua, id: NodeId, opts: BrowseOptions): Promise<Omit<BrowsedNode, 'children' | 'notBrowsed'>> {
  const A = ua.AttributeIds;
  const values = await withTimeout(
    session.read([A.NodeClass, A.BrowseName, A.DisplayName].map((attributeId) => ({ nodeId: id, attributeId }))),
    opts.timeoutMs,
    'reading the start node',
  );
  const [cls, browseName, displayName] = values;
  if (cls === undefined || !cls.statusCode.isGood()) {
    throw new OpcuaBrowseError('E_OPCUA_NODE_UNKNOWN', `--node: the server has no node ${id.toString()} (${cls?.statusCode.name ?? 'no answer'}); browse its parent to see the ids it has`);
  }
  return {
    nodeId: id.toString(),
    nodeClass: nodeClassName(ua, cls.value.value as number),
    browseName: (browseName?.value.value as { name?: string } | null)?.name ?? id.toString(),
    displayName: (displayName?.value.value as { text?: string } | null)?.text ?? '',
  };
}

/** Every reference of each node, following continuation points; at most maxNodes references per node are fetched. */
async function browseAll(session: ClientSession, ua: Ua, nodeIds: readonly string[], opts: BrowseOptions): Promise<ReferenceDescription[][]> {
  const descriptions: BrowseDescriptionLike[] = nodeIds.map((nodeId) => ({
    nodeId,
    referenceTypeId: 'HierarchicalReferences',
    includeSubtypes: true,
    browseDirection: ua.BrowseDirection.Forward,
    nodeClassMask: ua.NodeClassMask.Object | ua.NodeClassMask.Variable,
    resultMask: 0x3f,
  }));
  const results: UaBrowseResult[] = await withTimeout(session.browse(descriptions), opts.timeoutMs, 'browsing');
  const out: ReferenceDescription[][] = [];
  for (const [i, first] of results.entries()) {
    if (!first.statusCode.isGood()) throw new OpcuaBrowseError('E_OPCUA_BROWSE', `browsing ${nodeIds[i] ?? '?'} failed: ${first.statusCode.name}`);
    const refs = [...(first.references ?? [])];
    let cp = first.continuationPoint;
    while (cp !== null && cp !== undefined && cp.length > 0) {
      const done = refs.length >= opts.maxNodes;
      const more: UaBrowseResult = await withTimeout(session.browseNext(cp, done), opts.timeoutMs, 'browsing (next)');
      if (done) break;
      refs.push(...(more.references ?? []));
      cp = more.continuationPoint;
    }
    out.push(refs);
  }
  return out;
}

function fromReference(ua: Ua, ref: ReferenceDescription): BrowsedNode {
  return {
    nodeId: ref.nodeId.toString(),
    browseName: ref.browseName.name ?? '',
    displayName: ref.displayName.text ?? '',
    nodeClass: nodeClassName(ua, ref.nodeClass),
    children: [],
    notBrowsed: false,
  };
}

function nodeClassName(ua: Ua, value: number): NodeClassName {
  const name = ua.NodeClass[value];
  return typeof name === 'string' ? (name as NodeClassName) : 'Unspecified';
}

async function readVariableAttributes(session: ClientSession, ua: Ua, variables: readonly BrowsedNode[], properties: ReadonlyMap<BrowsedNode, { unit?: string; range?: string }>, opts: BrowseOptions): Promise<void> {
  const A = ua.AttributeIds;
  const attrs = [A.DataType, A.ValueRank, A.AccessLevel] as const;
  const dataTypeIds = new Map<BrowsedNode, string>();
  for (let i = 0; i < variables.length; i += BATCH) {
    const batch = variables.slice(i, i + BATCH);
    const values = await withTimeout(session.read(batch.flatMap((v) => attrs.map((attributeId) => ({ nodeId: v.nodeId, attributeId })))), opts.timeoutMs, 'reading attributes');
    for (const [k, v] of batch.entries()) {
      const [dt, rank, access] = values.slice(k * attrs.length, (k + 1) * attrs.length);
      if (dt?.statusCode.isGood() === true) dataTypeIds.set(v, (dt.value.value as NodeId).toString());
      if (rank?.statusCode.isGood() === true) v.valueRank = rank.value.value as number;
      if (access?.statusCode.isGood() === true) v.accessLevel = access.value.value as number;
    }
  }
  // Data type names: the built-in ones by number, the rest (UtcTime, structures) by reading their browse names once each.
  const names = new Map<string, string>();
  const unknown = [...new Set(dataTypeIds.values())].filter((id) => {
    const builtIn = /^ns=0;i=(\d+)$/.exec(id);
    const name = builtIn === null ? undefined : ua.DataType[Number(builtIn[1])];
    if (typeof name === 'string' && Number(builtIn?.[1]) <= 25) names.set(id, name);
    return !names.has(id);
  });
  for (let i = 0; i < unknown.length; i += BATCH) {
    const batch = unknown.slice(i, i + BATCH);
    const values = await withTimeout(session.read(batch.map((nodeId) => ({ nodeId, attributeId: A.BrowseName }))), opts.timeoutMs, 'reading data type names');
    for (const [k, id] of batch.entries()) names.set(id, (values[k]?.value.value as { name?: string } | null)?.name ?? id);
  }
  for (const [v, id] of dataTypeIds) v.dataType = names.get(id) ?? id;
  // EngineeringUnits (an EUInformation) and EURange (a Range), where the variable has them.
  const reads: { readonly v: BrowsedNode; readonly kind: 'unit' | 'range'; readonly nodeId: string }[] = [];
  for (const [v, p] of properties) {
    if (p.unit !== undefined) reads.push({ v, kind: 'unit', nodeId: p.unit });
    if (p.range !== undefined) reads.push({ v, kind: 'range', nodeId: p.range });
  }
  for (let i = 0; i < reads.length; i += BATCH) {
    const batch = reads.slice(i, i + BATCH);
    const values = await withTimeout(session.read(batch.map((r) => ({ nodeId: r.nodeId, attributeId: A.Value }))), opts.timeoutMs, 'reading engineering units');
    for (const [k, r] of batch.entries()) {
      const dv = values[k];
      if (dv === undefined || !dv.statusCode.isGood() || dv.value.value === null) continue;
      if (r.kind === 'unit') {
        const eu = dv.value.value as { displayName?: { text?: string | null }; description?: { text?: string | null } };
        const text = eu.displayName?.text ?? eu.description?.text ?? '';
        if (text !== '') r.v.unit = text;
      } else {
        const range = dv.value.value as { low?: number; high?: number };
        if (typeof range.low === 'number' && typeof range.high === 'number') r.v.range = { low: range.low, high: range.high };
      }
    }
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OpcuaBrowseError('E_OPCUA_TIMEOUT', `no answer within ${ms} ms while ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function listRejected(pkiDir: string): Set<string> {
  try {
    return new Set(readdirSync(join(pkiDir, 'rejected')));
  } catch {
    return new Set();
  }
}

/** The file the certificate manager wrote into rejected/ during this attempt (else the newest there). */
function newlyRejected(pkiDir: string, before: ReadonlySet<string>): string | undefined {
  const dir = join(pkiDir, 'rejected');
  const files = [...listRejected(pkiDir)].filter((f) => f.endsWith('.pem') || f.endsWith('.der'));
  const fresh = files.filter((f) => !before.has(f));
  const pick = (fresh.length > 0 ? fresh : files).map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t)[0];
  return pick === undefined ? undefined : join(dir, pick.f);
}

export function explainConnectError(err: unknown, opts: BrowseOptions, rejectedBefore: ReadonlySet<string>): OpcuaBrowseError {
  const message = err instanceof Error ? err.message : String(err);
  if (/BadCertificate(Untrusted|ChainIncomplete|Invalid|TimeInvalid|IssuerTimeInvalid|HostNameInvalid|UriInvalid|Revoked|IssuerRevoked|RevocationUnknown)/.test(message)) {
    const reason = /BadCertificate\w+/.exec(message)?.[0] ?? 'BadCertificate';
    const file = newlyRejected(opts.pkiDir, rejectedBefore);
    const trusted = join(opts.pkiDir, 'trusted', 'certs');
    const where = file === undefined ? `it should be in ${join(opts.pkiDir, 'rejected')}` : `it was saved as ${file}`;
    const how =
      reason === 'BadCertificateUntrusted'
        ? `If this is the server you mean (compare the thumbprint in the file name with the one the server's own configuration shows), trust it: mv '${file ?? join(opts.pkiDir, 'rejected', '<file>')}' '${trusted}/', then run again.`
        : 'Fix the certificate on the server (validity dates, host name, application URI) and run again.';
    return new OpcuaBrowseError('E_OPCUA_UNTRUSTED_SERVER', `the server's certificate was refused (${reason}); ${where}. ${how}`);
  }
  if (/BadUserAccessDenied|BadIdentityTokenInvalid|BadIdentityTokenRejected/.test(message)) {
    const code = /Bad\w+/.exec(message)?.[0] ?? 'BadUserAccessDenied';
    return new OpcuaBrowseError('E_OPCUA_USER_REFUSED', `${opts.url} refused the session (${code}): ${opts.user === undefined ? 'it does not allow anonymous users; give --user and --password-file' : `check the user name "${opts.user.name}" and its password file`}`);
  }
  if (/BadSecurityChecksFailed/i.test(message)) {
    // Our trust check of the server passed (a refusal is handled above): most often the server
    // refused our certificate (the source words it the same way: errors.ts).
    const ours = join(opts.pkiDir, 'own', 'certs', 'client_certificate.pem');
    return new OpcuaBrowseError(
      'E_OPCUA_SECURITY_CHECKS',
      `${opts.url} closed the secure channel (${firstLine(message)}): most often the server does not trust this client's certificate (${ours}): ` +
        "trust it in the server's own configuration (it is usually in the server's rejected list) and run again; it can also be a certificate the server finds invalid, or a security policy it does not allow (try another --security or --policy)",
    );
  }
  if (/BadSecurityPolicyRejected|BadSecurityModeRejected|cannot find endpoint|Cannot find an Endpoint|no endpoint/i.test(message)) {
    return new OpcuaBrowseError('E_OPCUA_SECURITY', `${opts.url} does not accept security ${opts.security}${opts.security === 'None' ? '' : ` with policy ${opts.policy}`} (${firstLine(message)}); try another --security or --policy`);
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET|cannot be established|connection has been aborted|Invalid endpoint|premature/i.test(message)) {
    return new OpcuaBrowseError('E_OPCUA_UNREACHABLE', `cannot reach ${opts.url}: ${firstLine(message)}; check the host, the port (4840 is the OPC UA default) and that the server runs`);
  }
  // node-opcua's words for a connection that died before the secure channel was open: a network
  // path that drops packets, or a server that closed it (it may not offer this security mode).
  if (/rejected by server|disconnected by third party|waiting for data on socket/i.test(message)) {
    return new OpcuaBrowseError(
      'E_OPCUA_UNREACHABLE',
      `cannot open a connection to ${opts.url}: ${firstLine(message)}; check the host and the port, and that the server offers security ${opts.security}${opts.security === 'None' ? '' : ` with ${opts.policy}`}`,
    );
  }
  return new OpcuaBrowseError('E_OPCUA_BROWSE', `${opts.url}: ${firstLine(message)}`);
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(0, 3).join(' ');
}

/** The first line of a password file, without its line end (the way the gateway's MQTT password file is read). */
export function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OpcuaBrowseError('E_OPCUA_USAGE', `--password-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text.split(/\r?\n/)[0] ?? '';
}

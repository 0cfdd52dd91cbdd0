/**
 * OPC UA node ids in their string form (Part 6 §5.3.1.10), parsed without loading node-opcua:
 * `--check` validates them, and a gateway without an OPC UA source never loads the library.
 *
 *   [ns=<0..65535>; | nsu=<namespace uri>;] i=<0..4294967295> | s=<string> | g=<guid> | b=<base64>
 */

export type NodeIdKind = 'i' | 's' | 'g' | 'b';

export interface ParsedNodeId {
  /** Namespace index (0 when neither ns nor nsu is given). */
  readonly namespace: number | null;
  /** Namespace URI of an `nsu=` id (the server maps it to an index). */
  readonly namespaceUri: string | null;
  readonly kind: NodeIdKind;
  readonly value: string;
}

/** `expected`: what a node id looks like and why this one is not (for --check); `reason`: the why alone. */
export type NodeIdResult = { readonly ok: true; readonly id: ParsedNodeId } | { readonly ok: false; readonly expected: string; readonly reason: string };

const FORMS = 'a node id like ns=2;s=Line1.Temp, ns=3;i=1001, i=2258, ns=1;g=<guid>, ns=1;b=<base64> or nsu=urn:plant:line1;s=Temp';
const GUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UINT = /^(0|[1-9][0-9]*)$/;

export function parseNodeId(text: string): NodeIdResult {
  const fail = (why: string): NodeIdResult => ({ ok: false, expected: `${FORMS} (${why})`, reason: why });
  let rest = text;
  let namespace: number | null = 0;
  let namespaceUri: string | null = null;
  if (rest.startsWith('ns=')) {
    const end = rest.indexOf(';');
    if (end < 0) return fail('ns= must be followed by ";"');
    const ns = rest.slice(3, end);
    if (!UINT.test(ns) || Number(ns) > 65_535) return fail(`namespace index "${ns}" is not 0..65535`);
    namespace = Number(ns);
    rest = rest.slice(end + 1);
  } else if (rest.startsWith('nsu=')) {
    const end = rest.indexOf(';');
    if (end < 0) return fail('nsu= must be followed by ";"');
    namespaceUri = rest.slice(4, end);
    if (namespaceUri.length === 0) return fail('the namespace URI is empty');
    namespace = null;
    rest = rest.slice(end + 1);
  }
  const kind = rest.slice(0, 2);
  const value = rest.slice(2);
  switch (kind) {
    case 'i=':
      if (!UINT.test(value) || Number(value) > 4_294_967_295) return fail(`numeric identifier "${value}" is not 0..4294967295`);
      break;
    case 's=':
      if (value.length === 0) return fail('the string identifier is empty');
      if (value.length > 4096) return fail('the string identifier is longer than 4096 characters');
      break;
    case 'g=':
      if (!GUID.test(value)) return fail(`"${value}" is not a GUID (8-4-4-4-12 hex digits)`);
      break;
    case 'b=':
      if (value.length === 0 || !BASE64.test(value)) return fail(`"${value}" is not base64`);
      break;
    default:
      return fail('the identifier must start with i=, s=, g= or b=');
  }
  return { ok: true, id: { namespace, namespaceUri, kind: kind[0] as NodeIdKind, value } };
}

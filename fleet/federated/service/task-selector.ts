import { LabelError, parseSelector, type Selector } from '../../registry/labels.js';
import { taskError } from '../round/errors.js';
import type { JsonValue } from '../round/json-value.js';

/**
 * A task's `gatewaySelector` (opaque JSON to the round logic) as the registry reads it: label
 * selector text (`machine=press-7,site in (a,b)`, fleet/registry/labels.ts), or an object of
 * labels that must all be equal (`{ "machine": "press-7" }`). Anything else, or text the
 * selector parser refuses, is E_FEDERATED_TASK naming `gatewaySelector`.
 */
export function taskSelector(value: JsonValue): Selector {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw taskError(`gatewaySelector.${k}`, `expected a label value (a string), got ${JSON.stringify(v)}`);
      parts.push(`${k}=${v}`);
    }
    text = parts.join(',');
  } else {
    throw taskError('gatewaySelector', `expected label selector text ("machine=press-7,site in (a,b)") or an object of labels, got ${JSON.stringify(value)}`);
  }
  try {
    return parseSelector(text, 'gatewaySelector');
  } catch (err) {
    if (err instanceof LabelError) throw taskError('gatewaySelector', err.message.replace(/^gatewaySelector: /, ''));
    throw err;
  }
}

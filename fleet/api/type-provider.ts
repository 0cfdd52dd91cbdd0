import type { FastifyTypeProvider } from 'fastify';
import type { Infer } from 'tjs';

/** Replies are only read by the serializer, so the handler may hand over readonly data. */
export type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/**
 * Types a route's handler from its JSON schemas with tjs's `Infer`, the same inference the
 * rest of the project uses (`runtime/config/schema.ts`, `fleet/protocol`), so a schema
 * written `as const` is the only statement of a request's shape. The validator compiler in
 * `validation.ts` checks requests with tjs too: what the handler's type promises is what the
 * validator that ran has checked, not what another engine's reading of the schema would be.
 */
export interface TjsTypeProvider extends FastifyTypeProvider {
  readonly validator: Infer<this['schema']>;
  readonly serializer: DeepReadonly<Infer<this['schema']>>;
}

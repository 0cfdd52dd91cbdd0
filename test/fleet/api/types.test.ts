import type { Infer } from 'tjs';
import { describe, expectTypeOf, it } from 'vitest';
import type { ServiceHealth } from '../../../fleet/api/deps.js';
import type { ProblemBody } from '../../../fleet/api/problem.js';
import { problemSchema } from '../../../fleet/api/problem.js';
import { listEventsSchema } from '../../../fleet/api/schemas/events.js';
import { gatewayDetailSchema, gatewayMetricsSchema, listGatewaysSchema, provisionSchema } from '../../../fleet/api/schemas/gateways.js';
import { previewRolloutSchema } from '../../../fleet/api/schemas/rollouts.js';
import { meSchema } from '../../../fleet/api/schemas/tokens.js';
import type { GatewayMetricsSample } from '../../../fleet/registry/gateway-metrics.js';
import type { RolloutPreview } from '../../../fleet/rollouts/rollouts.js';
import type { Operator } from '../../../fleet/api/tokens.js';
import { releaseSchema } from '../../../fleet/api/schemas/releases.js';
import { serviceHealthSchema } from '../../../fleet/api/schemas/system.js';
import { createTokenSchema, tokenSchema } from '../../../fleet/api/schemas/tokens.js';
import type { DeepReadonly } from '../../../fleet/api/type-provider.js';
import type { StoredEvent } from '../../../fleet/events/event-store.js';
import type { GatewayDetail } from '../../../fleet/registry/gateway-store.js';
import type { ReleaseInfo } from '../../../fleet/repo/releases.js';
import type { TokenInfo, TokenRole } from '../../../fleet/api/tokens.js';

/**
 * The handlers are typed from the schemas by tjs's `Infer`. When a schema uses something
 * `Infer` does not read, it falls back to a loose type without a word; these checks (run by
 * `tsc`, the runtime part is empty) keep the inferred types as precise as the schemas.
 */
describe('types inferred from the API schemas', () => {
  it('types requests precisely', () => {
    expectTypeOf<Infer<typeof provisionSchema.body>>().toEqualTypeOf<{ id: string; site?: string; labels?: Record<string, unknown>; replace?: boolean }>();
    expectTypeOf<Infer<typeof listGatewaysSchema.querystring>['limit']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Infer<typeof listEventsSchema.querystring>['kind']>().toEqualTypeOf<'alert' | 'event' | 'summary' | undefined>();
    expectTypeOf<Infer<typeof createTokenSchema.body>>().toEqualTypeOf<{ role: TokenRole; name: string }>();
  });

  it('accepts the domain objects as replies, field for field', () => {
    expectTypeOf<GatewayDetail>().toMatchTypeOf<DeepReadonly<Infer<typeof gatewayDetailSchema>>>();
    expectTypeOf<keyof Infer<typeof gatewayDetailSchema>>().toEqualTypeOf<keyof GatewayDetail>();
    expectTypeOf<StoredEvent>().toMatchTypeOf<DeepReadonly<Infer<typeof listEventsSchema.response[200]>['items'][number]>>();
    expectTypeOf<ReleaseInfo>().toMatchTypeOf<DeepReadonly<Infer<typeof releaseSchema>>>();
    expectTypeOf<keyof Infer<typeof releaseSchema>>().toEqualTypeOf<keyof ReleaseInfo>();
    expectTypeOf<TokenInfo>().toMatchTypeOf<DeepReadonly<Infer<typeof tokenSchema>>>();
    expectTypeOf<ServiceHealth>().toMatchTypeOf<DeepReadonly<Infer<typeof serviceHealthSchema>>>();
    expectTypeOf<ProblemBody>().toMatchTypeOf<DeepReadonly<Infer<typeof problemSchema>>>();
    expectTypeOf<GatewayMetricsSample>().toMatchTypeOf<DeepReadonly<Infer<typeof gatewayMetricsSchema.response[200]>['items'][number]>>();
    expectTypeOf<keyof Infer<typeof gatewayMetricsSchema.response[200]>['items'][number]>().toEqualTypeOf<keyof GatewayMetricsSample>();
    expectTypeOf<RolloutPreview>().toMatchTypeOf<DeepReadonly<Infer<typeof previewRolloutSchema.response[200]>>>();
    expectTypeOf<keyof Infer<typeof previewRolloutSchema.response[200]>>().toEqualTypeOf<keyof RolloutPreview>();
    expectTypeOf<Operator>().toMatchTypeOf<DeepReadonly<Infer<typeof meSchema.response[200]>>>();
  });

  it('does not accept what the reply schemas do not describe', () => {
    expectTypeOf<{ id: string }>().not.toMatchTypeOf<DeepReadonly<Infer<typeof gatewayDetailSchema>>>();
    expectTypeOf<Infer<typeof gatewayDetailSchema>['revokedMs']>().toEqualTypeOf<number | null>();
  });
});

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Our stable error codes; clients branch on these, never on `title` or `detail`. */
export const PROBLEM_CODES = [
  'E_VALIDATION',
  'E_BAD_JSON',
  'E_BAD_REQUEST',
  'E_UNSUPPORTED_MEDIA_TYPE',
  'E_BODY_TOO_LARGE',
  'E_UNAUTHORIZED',
  'E_FORBIDDEN',
  'E_NOT_FOUND',
  'E_GATEWAY_EXISTS',
  'E_ROLLOUT_STATE',
  'E_RELEASE_UNKNOWN',
  'E_TOO_MANY_STREAMS',
  'E_LEARNING_TASK_EXISTS',
  'E_LEARNING_TASK_STATE',
  'E_CONSOLE_NOT_BUILT',
  'E_INTERNAL',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/** One title per code (RFC 9457: the title names the problem type, not this occurrence). */
const TITLES: Readonly<Record<ProblemCode, string>> = {
  E_VALIDATION: 'The request does not match the API schema',
  E_BAD_JSON: 'The body is not valid JSON',
  E_BAD_REQUEST: 'The request cannot be read',
  E_UNSUPPORTED_MEDIA_TYPE: 'Unsupported content type',
  E_BODY_TOO_LARGE: 'The body is too large',
  E_UNAUTHORIZED: 'No valid operator token',
  E_FORBIDDEN: 'The token may not do this',
  E_NOT_FOUND: 'Not found',
  E_GATEWAY_EXISTS: 'The gateway exists already',
  E_ROLLOUT_STATE: 'The rollout cannot make that move from its state',
  E_RELEASE_UNKNOWN: 'No such model release in the repository',
  E_TOO_MANY_STREAMS: 'Too many event streams are open',
  E_LEARNING_TASK_EXISTS: 'A learning task with that id exists already',
  E_LEARNING_TASK_STATE: 'The learning task cannot make that move from its state',
  E_CONSOLE_NOT_BUILT: 'The web console is not built',
  E_INTERNAL: 'The fleet failed to handle the request',
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An error that becomes a problem reply as it is: status, stable code, and what to fix. */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  constructor(
    readonly statusCode: number,
    readonly code: ProblemCode,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** RFC 9457 problem details plus our `code`. */
export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ProblemCode;
}

/** `type` is a URN: it names the problem type for good without pretending to be a page to fetch. */
export function problemBody(p: ApiProblem): ProblemBody {
  return { type: `urn:edgewise:problem:${p.code}`, title: TITLES[p.code], status: p.statusCode, detail: p.detail, code: p.code };
}

export const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details with a stable `code`; `detail` says what to fix',
  properties: {
    type: { type: 'string', description: 'urn:edgewise:problem:<code>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: PROBLEM_CODES },
  },
  required: ['type', 'title', 'status', 'detail', 'code'],
  additionalProperties: false,
} as const;

const problemResponse = { description: 'Problem details (RFC 9457)', content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } } } as const;
/** Every route declares these beside its own replies. */
export const problemResponses = { '4xx': problemResponse, '5xx': problemResponse } as const;

const clip = (text: string, max = 120): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** Turns anything thrown while handling a request into a problem; unexpected errors become E_INTERNAL. */
export function toProblem(err: unknown, request: FastifyRequest, bodyLimitBytes: number): ApiProblem {
  if (err instanceof ApiProblem) return err;
  const e = err as Partial<FastifyError>;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiProblem(413, 'E_BODY_TOO_LARGE', `the body is larger than ${bodyLimitBytes} bytes; send at most ${bodyLimitBytes} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiProblem(415, 'E_UNSUPPORTED_MEDIA_TYPE', `content-type ${JSON.stringify(clip(request.headers['content-type'] ?? ''))} is not accepted; send the body as application/json`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiProblem(400, 'E_BAD_REQUEST', 'the body is not as long as its content-length header says');
    case 'FST_ERR_BAD_URL':
      return new ApiProblem(400, 'E_BAD_REQUEST', `the URL path ${JSON.stringify(clip(request.url))} has a malformed %-escape; percent-encode path segments as UTF-8`);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiProblem(404, 'E_NOT_FOUND', 'no resource has an id that long; see GET /openapi.json for the routes');
    default:
      break;
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiProblem(e.statusCode, e.statusCode === 404 ? 'E_NOT_FOUND' : 'E_BAD_REQUEST', clip(e.message ?? 'the request cannot be read', 300));
  }
  return new ApiProblem(500, 'E_INTERNAL', `the fleet could not complete the request; its log has the cause under request id ${request.id}`);
}

/** Sends a problem (with the challenge header a 401 needs, RFC 6750). */
export function sendProblem(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  if (problem.statusCode === 401) void reply.header('www-authenticate', 'Bearer realm="edgewise-fleet"');
  return reply.code(problem.statusCode).type(PROBLEM_CONTENT_TYPE).send(problemBody(problem));
}

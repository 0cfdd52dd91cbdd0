/**
 * The page's one way to the fleet: fetch with the operator token as a bearer header, JSON in
 * and out, and every refusal turned into an ApiError carrying the problem's `code` and
 * `detail` (RFC 9457, as fleet/api/problem.ts sends them), which the pages show as they are.
 */
import type { Problem } from './types.js';

export class ApiError extends Error {
  constructor(
    /** The problem's code (E_VALIDATION, E_UNAUTHORIZED, ...); E_NETWORK when no reply came. */
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Query = Readonly<Record<string, string | number | undefined | null>>;

export function queryString(q: Query | undefined): string {
  if (q === undefined) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

export class ApiClient {
  constructor(
    private readonly token: string,
    /** Called when the fleet no longer takes the token (revoked while the page is open). */
    private readonly onUnauthorized: () => void = () => {},
    private readonly base = '',
  ) {}

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path + queryString(query), undefined, signal);
  }

  post<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>('POST', path, body ?? {}, signal);
  }

  private async request<T>(method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? null : JSON.stringify(body), signal: signal ?? null, cache: 'no-store' });
    } catch (err) {
      if (signal?.aborted === true) throw err;
      throw new ApiError('E_NETWORK', 0, `The fleet did not answer ${method} ${path.split('?')[0]}: ${(err as Error).message}`);
    }
    if (res.ok) return (await res.json()) as T;
    const problem = await readProblem(res);
    if (res.status === 401) this.onUnauthorized();
    throw new ApiError(problem.code ?? `HTTP_${res.status}`, res.status, problem.detail ?? problem.title ?? `${method} ${path.split('?')[0]}: HTTP ${res.status}`);
  }
}

async function readProblem(res: Response): Promise<Problem> {
  try {
    const body = (await res.json()) as unknown;
    return typeof body === 'object' && body !== null ? (body as Problem) : {};
  } catch {
    return {};
  }
}

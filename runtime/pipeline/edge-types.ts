import type { SchemaProblem } from '../../fleet/protocol/schema-problems.js';
import { STORE_ACCEPTS, type RecordKind, type StageFlow } from './registry.js';

type Path = readonly (string | number)[];

/** One pipeline as the check sees it: what its source emits, its stages in order, where it ends. */
export interface TypedPipeline {
  readonly source: { readonly id: string; readonly type: string; readonly emits: readonly RecordKind[] };
  readonly stages: readonly { readonly type: string; readonly flow: StageFlow; readonly path: Path }[];
  /** Where a problem with the last edge (into the store) is reported. */
  readonly path: Path;
  /** Stage types that accept a kind: named in a problem as the way out. */
  readonly acceptedBy: (kind: RecordKind) => readonly string[];
}

function words(kinds: Iterable<RecordKind>): string {
  return [...kinds].join(', ') || 'nothing';
}

/**
 * Follows what each edge carries, source to store: a stage must work on at least one kind on
 * its edge and work on or pass every other; the store takes no frames. The problems name the
 * edge (`cam-1 (camera) -> anomaly`).
 */
export function edgeProblems(p: TypedPipeline): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  let carries = new Set<RecordKind>(p.source.emits);
  let from = `${p.source.id} (${p.source.type})`;
  for (const stage of p.stages) {
    if (carries.size === 0) return problems;
    const { accepts, emits, passes } = stage.flow;
    const used = [...carries].filter((k) => accepts.includes(k));
    const stuck = [...carries].filter((k) => !accepts.includes(k) && !passes.includes(k));
    const edge = `the edge ${from} -> ${stage.type} carries ${words(carries)}`;
    if (used.length === 0) {
      const alternatives = [...new Set([...carries].flatMap((k) => p.acceptedBy(k)))];
      problems.push({
        path: [...stage.path, 'type'],
        expected: `a stage that takes ${words(carries)} (${edge}${alternatives.length > 0 ? `; stages that take it: ${alternatives.join(', ')}` : ''})`,
        got: `${stage.type}, which takes ${words(accepts)}`,
      });
    } else if (stuck.length > 0) {
      problems.push({ path: [...stage.path, 'type'], expected: `a stage that takes or passes ${words(stuck)} (${edge})`, got: `${stage.type}, which takes ${words(accepts)} and passes ${words(passes)}` });
    }
    const next = new Set<RecordKind>(passes.filter((k) => carries.has(k)));
    if (used.length > 0) for (const k of emits) next.add(k);
    carries = next;
    from = stage.type;
  }
  const refused = [...carries].filter((k) => !STORE_ACCEPTS.includes(k));
  if (refused.length > 0) {
    const ways = [...new Set(refused.flatMap((k) => p.acceptedBy(k)))];
    problems.push({
      path: p.path,
      expected: `a pipeline whose last edge the store can take (${words(STORE_ACCEPTS)})${ways.length > 0 ? `: add a stage that takes ${words(refused)} (${ways.join(', ')})` : ''}`,
      got: `the edge ${from} -> store carrying ${words(carries)}`,
    });
  }
  return problems;
}

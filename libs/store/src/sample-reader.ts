import { Range, type Etcd3 } from 'etcd3';
import { prefixEnd } from '@dynamite/domain';

export interface RawSample {
  /** Full etcd key. */
  key: string;
  /** Last key segment (the timestamp as written by the producer). */
  segment: string;
  value: string;
  modRevision: string;
}

/**
 * Reads the samples of one state machine that come after `cursor` (a key segment), in key order -- which is time
 * order for the fixed-width ISO timestamps producers write. Deeper keys are skipped: they belong to other layouts.
 */
export async function readSamplesAfter(etcd: Etcd3, prefix: string, cursor: string | null, limit = 1000): Promise<RawSample[]> {
  const start = cursor === null ? prefix : `${prefix}${cursor}\u0000`;
  const res = await etcd.getAll().inRange(new Range(start, prefixEnd(prefix))).sort('Key', 'Ascend').limit(limit).exec();
  const out: RawSample[] = [];
  for (const kv of res.kvs) {
    const key = kv.key.toString('utf8');
    const segment = key.slice(prefix.length);
    if (segment === '' || segment.includes('/')) continue;
    out.push({ key, segment, value: kv.value.toString('utf8'), modRevision: String(kv.mod_revision) });
  }
  return out;
}

import type { Etcd3 } from 'etcd3';

export interface RawSample {
  /** Full etcd key. */
  key: string;
  /** Last key segment (the timestamp as written by the producer). */
  segment: string;
  value: string;
  modRevision: string;
}

/**
 * Reads the samples of one state machine written (or rewritten) after etcd revision `afterRevision`, oldest write
 * first. The cursor is a revision, not a key: producers' timestamps need not sort as strings (`...01Z` sorts after
 * `...01.5Z`), and a malformed key is read once, never again. Deeper keys are skipped: they belong to other layouts.
 */
export async function readSamplesAfter(etcd: Etcd3, prefix: string, afterRevision: string | null, limit = 1000): Promise<{ samples: RawSample[]; lastRevision: string | null }> {
  let query = etcd.getAll().prefix(prefix).sort('Mod', 'Ascend').limit(limit);
  if (afterRevision !== null) query = query.minModRevision((BigInt(afterRevision) + 1n).toString());
  const res = await query.exec();
  const out: RawSample[] = [];
  // The cursor moves over every key read, deeper ones included, so no key is read twice.
  const last = res.kvs[res.kvs.length - 1];
  for (const kv of res.kvs) {
    const key = kv.key.toString('utf8');
    const segment = key.slice(prefix.length);
    if (segment === '' || segment.includes('/')) continue;
    out.push({ key, segment, value: kv.value.toString('utf8'), modRevision: String(kv.mod_revision) });
  }
  return { samples: out, lastRevision: last ? String(last.mod_revision) : null };
}

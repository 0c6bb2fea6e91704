import type { Etcd3 } from 'etcd3';
import type { IKeyValue } from 'etcd3/lib/rpc';
import { readInTransactions } from './state-store';

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
export async function readSamplesAfter(etcd: Etcd3, prefix: string, afterRevision: string | null, limit = 1000): Promise<SamplesRead> {
  const res = await sampleRange(etcd, prefix, afterRevision, limit).exec();
  return samplesOf(prefix, res.kvs);
}

/** readSamplesAfter for many machines at once: one transaction per MAX_TXN_OPS ranges. */
export async function readSamplesAfterEach(etcd: Etcd3, queries: { prefix: string; afterRevision: string | null }[], limit = 1000): Promise<SamplesRead[]> {
  const read = await readInTransactions(etcd, queries, (q) => sampleRange(etcd, q.prefix, q.afterRevision, limit));
  return read.map(({ kvs }, i) => samplesOf(queries[i]!.prefix, kvs));
}

export interface SamplesRead {
  samples: RawSample[];
  /** Mod revision of the last key read (the machine's next cursor), null when none was. */
  lastRevision: string | null;
}

function sampleRange(etcd: Etcd3, prefix: string, afterRevision: string | null, limit: number) {
  const query = etcd.getAll().prefix(prefix).sort('Mod', 'Ascend').limit(limit);
  return afterRevision === null ? query : query.minModRevision((BigInt(afterRevision) + 1n).toString());
}

function samplesOf(prefix: string, kvs: IKeyValue[]): SamplesRead {
  const out: RawSample[] = [];
  // The cursor moves over every key read, deeper ones included, so no key is read twice.
  const last = kvs[kvs.length - 1];
  for (const kv of kvs) {
    const key = kv.key.toString('utf8');
    const segment = key.slice(prefix.length);
    if (segment === '' || segment.includes('/')) continue;
    out.push({ key, segment, value: kv.value.toString('utf8'), modRevision: String(kv.mod_revision) });
  }
  return { samples: out, lastRevision: last ? String(last.mod_revision) : null };
}

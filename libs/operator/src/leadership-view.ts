import type { Etcd3 } from 'etcd3';
import { readCandidates, type LeadershipStatus } from '@dynamite/engine';

/**
 * Who leads the schedulers and since when, from the election keys in etcd (`GET /api/leader`, the `leader` field of
 * `/api/services`, `dynamite status`), plus, when asked through a scheduler, that scheduler's own place.
 */
export interface LeaderView {
  /** The elected scheduler; null when none runs. `since` is null for the moment between its election and its announcement. */
  leader: { id: string; url: string | null; since: string | null; key: string } | null;
  /** Every scheduler campaigning, the leader first, then the standbys in the order they would take over. */
  candidates: { id: string; url: string | null; role: 'leader' | 'standby'; key: string }[];
  /** The scheduler that answered (null when read by the CLI or a worker). */
  self: { id: string; role: 'leader' | 'standby'; since: string | null; leaseTtlSeconds: number } | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function readLeaderView(etcd: Etcd3, self: LeadershipStatus | null): Promise<LeaderView> {
  const candidates = await readCandidates(etcd);
  const first = candidates[0];
  return {
    leader: first ? { id: first.id, url: first.url, since: iso(first.since), key: first.key } : null,
    candidates: candidates.map((c, i) => ({ id: c.id, url: c.url, role: i === 0 ? 'leader' : 'standby', key: c.key })),
    self: self ? { id: self.id, role: self.role, since: iso(self.since), leaseTtlSeconds: self.ttlSeconds } : null,
  };
}

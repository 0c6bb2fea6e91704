import type { WatchBuilder, Watcher } from 'etcd3';
import type { IWatchResponse } from 'etcd3/lib/rpc';

/** The part of etcd3's Watcher that decides where a broken watch stream resumes (not in its typings). */
interface WatcherInternals {
  request: { start_revision?: number | string };
  updateRevision(res: IWatchResponse): void;
}

/**
 * Creates an etcd watch (like `builder.create()`) that, when its stream breaks, resumes right after the newest event
 * it delivered.
 *
 * etcd3's Watcher resumes from the header revision of the last answer + 1 -- the answer that confirms the watch
 * included, whose header is etcd's *current* revision. A watch asked to start at an older revision gets the events
 * in between after that answer; when the stream breaks before they arrive (an etcd member restarted, a connection
 * reset), the resumed watch starts past them and silently never delivers them: a watch created 20,000 revisions back
 * whose etcd restarted at once delivered none of them (test/ha/watch-resume.test.ts). A scheduler taking over and
 * resuming its sample watch at the stored revision would lose every sample written meanwhile, a standby could miss
 * its predecessor's delete and never lead. Here the resume point moves only with delivered events, with an empty
 * progress notice (etcd sends those only to a watch that is caught up), or at the confirmation of a watch that asked
 * for no start revision (it has nothing to catch up).
 */
export function createWatch(builder: WatchBuilder): Promise<Watcher> {
  const watcher = builder.watcher();
  const w = watcher as unknown as WatcherInternals;
  w.updateRevision = (res) => {
    const events = res.events ?? [];
    let next: bigint | null = null;
    if (events.length > 0) next = BigInt(events[events.length - 1]!.kv.mod_revision) + 1n;
    else if (!res.created || w.request.start_revision === undefined) next = BigInt(res.header.revision) + 1n;
    if (next === null) return;
    const current = w.request.start_revision === undefined ? null : BigInt(w.request.start_revision);
    if (current === null || next > current) w.request.start_revision = next.toString();
  };
  return new Promise<Watcher>((resolve, reject) => {
    const onConnected = () => { watcher.off('error', onError); resolve(watcher); };
    const onError = (err: Error) => { watcher.off('connected', onConnected); reject(err); };
    watcher.once('connected', onConnected);
    watcher.once('error', onError);
  });
}

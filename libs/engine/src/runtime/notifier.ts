import { webhooksFor, type DecisionRecord, type WebhookJobData } from '@dynamite/domain';
import type { ConfigSource } from './config-source';
import type { JobProducer } from './job-producer';
import type { Logger } from './logger';

/**
 * Hands committed decision records to the webhooks that want them (`Notifications` in the config): one delivery job
 * per webhook and record on the `notifications` queue, its id derived from both, so a record committed again (a
 * retried job) is not delivered twice. Called after the commit, never before: a webhook only hears of what etcd holds.
 */
export class Notifier {
  constructor(private readonly config: ConfigSource, private readonly jobs: JobProducer, private readonly log: Logger) {}

  /**
   * Never throws: the records are committed whatever happens here, and a job that failed after its commit would
   * run again only to find it done. A delivery Redis refused is logged and lost (docs/notifications.md).
   */
  async records(records: DecisionRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      const config = await this.config.current();
      if (config.notifications.webhooks.length === 0) return;
      const deliveries: WebhookJobData[] = records.flatMap((record) =>
        webhooksFor(config, record).map(({ webhook, event }) => ({ webhook: webhook.name, event, service: record.service, record })));
      await this.jobs.addWebhooks(deliveries);
    } catch (err) {
      this.log.warn({ records: records.map((r) => r.id), err: String(err) }, 'could not queue webhook deliveries; these records are not notified');
    }
  }
}

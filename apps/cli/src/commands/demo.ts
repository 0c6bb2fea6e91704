import { Command, Option } from 'commander';
import { DEMO_DEFAULTS, DemoError, runDemo } from '@dynamite/demo';
import { UsageError } from '../errors';

interface DemoFlags {
  duration: string;
  keep?: boolean;
  etcd_endpoint?: string;
  redis_url?: string;
  workers: string;
  keep_logs?: boolean;
}

function number(value: string, flag: string, integer: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag}: must be a positive ${integer ? 'integer' : 'number'} (got "${value}")`);
  }
  return n;
}

/**
 * `dynamite demo`: the README's first command (`bash scripts/demo.sh` installs what it needs, then runs it).
 * Starts a fleet emulator, a scheduler and two workers as child processes, a small web service with its discovery
 * and metrics agent, and traffic that makes the engine scale it up and back down; prints a summary. See docs/demo.md.
 */
export function register(program: Command): void {
  const cmd = new Command('demo')
    .description('watch the engine scale a small web service up and down under generated load, on this machine (~90 s)')
    .addOption(new Option('--duration <seconds>', `seconds of traffic (at least ${DEMO_DEFAULTS.minDurationS}); startup and shutdown come on top`).default(String(DEMO_DEFAULTS.durationS)))
    .addOption(new Option('--keep', 'after the traffic phases, stay up (quiet traffic, live view, board) until Ctrl-C'))
    .addOption(new Option('-e, --etcd_endpoint <host:port>', 'etcd to use (default: 127.0.0.1:2379 when it answers and holds no /_dynamite keys, else a private etcd)'))
    .addOption(new Option('--redis_url <url>', 'Redis for the queues (default: redis://127.0.0.1:6379 when it answers, else a private redis-server)'))
    .addOption(new Option('--workers <n>', 'worker processes').default(String(DEMO_DEFAULTS.workers)))
    .addOption(new Option('--keep_logs', 'keep the run dir (config, unit files, logs) after a successful run too'));
  cmd.action(async (flags: DemoFlags) => {
    const durationS = number(flags.duration, '--duration', false);
    const workers = number(flags.workers, '--workers', true);
    let code: number;
    try {
      code = await runDemo({
        durationS,
        keep: flags.keep === true,
        etcdEndpoint: flags.etcd_endpoint,
        redisUrl: flags.redis_url,
        workers,
        keepLogs: flags.keep_logs === true,
      });
    } catch (err) {
      if (err instanceof DemoError) throw new UsageError(err.message, err.exitCode);
      throw err;
    }
    process.exitCode = code;
    // Everything is closed by now; should a library keep a handle open, do not hang the terminal over it.
    setTimeout(() => process.exit(code), 3000).unref();
  });
  program.addCommand(cmd);
}

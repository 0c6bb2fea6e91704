import { expandSystemdSpecifiers, unitNameInfo, type SpecifierContext, type UnitOption } from '@dynamite/unit-files';
import { CommandLineError, parseEnvironmentAssignments, parseExecCommand, type ExecCommand } from './command-line';
import { parseTimespanMs } from '@dynamite/unit-files';

export type ServiceType = 'simple' | 'exec' | 'oneshot' | 'forking' | 'notify' | 'dbus' | 'idle';
export type RestartPolicy = 'no' | 'always' | 'on-success' | 'on-failure' | 'on-abnormal' | 'on-abort' | 'on-watchdog';
export type KillMode = 'control-group' | 'process' | 'mixed' | 'none';

/** What the emulator needs from a unit file to run it like systemd would (the subset of spec §12). */
export interface ServiceConfig {
  /** Only `.service` units run; the other types stay `loaded/inactive/dead`. */
  runnable: boolean;
  /** Set when systemd would refuse the unit (its load state becomes `error`). */
  loadError: string | null;
  type: ServiceType;
  remainAfterExit: boolean;
  execStartPre: ExecCommand[];
  execStart: ExecCommand[];
  execStartPost: ExecCommand[];
  execStop: ExecCommand[];
  execStopPost: ExecCommand[];
  environment: Array<[string, string]>;
  environmentFiles: Array<{ path: string; optional: boolean }>;
  workingDirectory: { path: string; optional: boolean } | null;
  restart: RestartPolicy;
  restartMs: number;
  /** null: the emulator's default stop timeout. */
  timeoutStopMs: number | null;
  killMode: KillMode;
  killSignal: NodeJS.Signals;
  /** Things systemd would log at load time; they go to the unit's journal. */
  warnings: string[];
}

const EXEC_KEYS = ['ExecStartPre', 'ExecStart', 'ExecStartPost', 'ExecStop', 'ExecStopPost'] as const;
const TYPES: ServiceType[] = ['simple', 'exec', 'oneshot', 'forking', 'notify', 'dbus', 'idle'];
const RESTARTS: RestartPolicy[] = ['no', 'always', 'on-success', 'on-failure', 'on-abnormal', 'on-abort', 'on-watchdog'];
const KILL_MODES: KillMode[] = ['control-group', 'process', 'mixed', 'none'];
const TRUE_VALUES = ['1', 'yes', 'true', 'on', 'y', 't'];

/** systemd's continuation rule, then specifier expansion. */
function prepare(value: string, ctx: SpecifierContext): string {
  return expandSystemdSpecifiers(value.replace(/\\\n/g, ' '), ctx);
}

export function serviceConfig(options: UnitOption[], ctx: SpecifierContext): ServiceConfig {
  const info = unitNameInfo(ctx.unitName);
  const config: ServiceConfig = {
    runnable: info.suffix === 'service',
    loadError: null,
    type: 'simple',
    remainAfterExit: false,
    execStartPre: [], execStart: [], execStartPost: [], execStop: [], execStopPost: [],
    environment: [],
    environmentFiles: [],
    workingDirectory: null,
    restart: 'no',
    restartMs: 100,
    timeoutStopMs: null,
    killMode: 'control-group',
    killSignal: 'SIGTERM',
    warnings: [],
  };
  const warn = (message: string) => config.warnings.push(message);
  let hasType = false;

  for (const option of options) {
    if (option.section !== 'Service') continue;
    const value = prepare(option.value, ctx);
    const key = option.name;
    if ((EXEC_KEYS as readonly string[]).includes(key)) {
      const list = config[key.charAt(0).toLowerCase() + key.slice(1) as 'execStart'];
      if (value.trim() === '') { list.length = 0; continue; }
      try {
        const command = parseExecCommand(value);
        if (command) list.push(command);
      } catch (err) {
        if (!(err instanceof CommandLineError)) throw err;
        config.loadError = `${key}: ${err.message}`;
      }
      continue;
    }
    switch (key) {
      case 'Type':
        if ((TYPES as string[]).includes(value)) { config.type = value as ServiceType; hasType = true; }
        else warn(`Failed to parse service type, ignoring: ${value}`);
        break;
      case 'RemainAfterExit':
        config.remainAfterExit = TRUE_VALUES.includes(value.toLowerCase());
        break;
      case 'Environment':
        if (value.trim() === '') config.environment = [];
        else {
          try { config.environment.push(...parseEnvironmentAssignments(value, warn)); } catch (err) {
            if (!(err instanceof CommandLineError)) throw err;
            warn(`Environment: ${err.message}`);
          }
        }
        break;
      case 'EnvironmentFile':
        if (value.trim() === '') config.environmentFiles = [];
        else {
          const optional = value.trim().startsWith('-');
          config.environmentFiles.push({ path: value.trim().replace(/^-/, ''), optional });
        }
        break;
      case 'WorkingDirectory': {
        const trimmed = value.trim();
        if (trimmed === '') { config.workingDirectory = null; break; }
        const optional = trimmed.startsWith('-');
        config.workingDirectory = { path: trimmed.replace(/^-/, ''), optional };
        break;
      }
      case 'Restart':
        if ((RESTARTS as string[]).includes(value)) config.restart = value as RestartPolicy;
        else warn(`Failed to parse service restart specifier, ignoring: ${value}`);
        break;
      case 'RestartSec': {
        const ms = parseTimespanMs(value);
        if (ms === null || ms === Infinity) warn(`Failed to parse RestartSec, ignoring: ${value}`);
        else config.restartMs = ms;
        break;
      }
      case 'TimeoutStopSec':
      case 'TimeoutSec': {
        const ms = parseTimespanMs(value);
        if (ms === null) warn(`Failed to parse ${key}, ignoring: ${value}`);
        // 0 disables the timeout, like infinity.
        else if (key === 'TimeoutStopSec' || config.timeoutStopMs === null) config.timeoutStopMs = ms === 0 ? Infinity : ms;
        break;
      }
      case 'KillMode':
        if ((KILL_MODES as string[]).includes(value)) config.killMode = value as KillMode;
        else warn(`Failed to parse kill mode, ignoring: ${value}`);
        break;
      case 'KillSignal': {
        const signal = (value.startsWith('SIG') ? value : `SIG${value}`) as NodeJS.Signals;
        if (/^SIG[A-Z0-9]+$/.test(signal)) config.killSignal = signal;
        else warn(`Failed to parse kill signal, ignoring: ${value}`);
        break;
      }
      case 'User':
      case 'Group':
        warn(`${key}=${value} is ignored: the emulator runs every unit as its own user`);
        break;
    }
  }

  if (config.runnable && config.loadError === null) {
    if (config.execStart.length === 0 && !(config.type === 'oneshot' && config.execStop.length > 0)) {
      config.loadError = 'Service has no ExecStart= setting, which is only allowed for Type=oneshot services. Refusing.';
    } else if (config.execStart.length > 1 && config.type !== 'oneshot') {
      config.loadError = 'Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services. Refusing.';
    }
  }
  if (!hasType && config.execStart.length === 0 && config.type === 'simple') config.type = 'oneshot';
  return config;
}

export { startFleetEmulator, EmulatorOptionError, type FleetEmulator, type FleetEmulatorOptions } from './emulator';
export { StateDirError } from './persistence/state-dir';
export { parseTimespanMs } from './runner/systemd-time';
export { splitWords, substituteEnvironment, parseEnvironmentFile, parseExecCommand, type ExecCommand } from './runner/command-line';

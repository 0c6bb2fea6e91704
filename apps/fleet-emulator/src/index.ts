export { startFleetEmulator, EmulatorOptionError, type FleetEmulator, type FleetEmulatorOptions } from './emulator';
export { StateDirError } from './persistence/state-dir';
export { splitWords, substituteEnvironment, parseEnvironmentFile, parseExecCommand, type ExecCommand } from './runner/command-line';
export { processEnvironment, workingDirectory, specifierContext, type UserInfo } from './runner/process-environment';

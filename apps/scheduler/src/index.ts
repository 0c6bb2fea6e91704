export { startScheduler, type SchedulerOptions, type RunningScheduler } from './scheduler';

export * from './http';
export * from './overview';
export * from './worker-metrics-server';
export * from './leadership-view';
export * from './timeline';
export * from './read-timeline';
export * from './controls';

export * from './http';
export * from './overview';
export * from './worker-metrics-server';

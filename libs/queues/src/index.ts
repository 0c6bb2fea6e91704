export * from './connection';
export * from './job-queues';
export * from './receipts';

export * from './connection';
export * from './engine-queues';
export * from './receipts';

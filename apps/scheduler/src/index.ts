export * from './scheduler';
export * from './bootstrap';
export * from './sample-watch';
export * from './templates';
export * from './http';

export * from './config/types';
export * from './keys/layout';
export * from './jobs/contracts';

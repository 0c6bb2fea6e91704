export * from './config/types';
export * from './config';
export * from './keys/layout';
export * from './jobs/contracts';

export * from './samples';
export * from './instances';
export * from './policy';
export * from './notifications';

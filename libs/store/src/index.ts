export * from './etcd-connection';
export * from './records';
export * from './engine-store';
export * from './sample-reader';

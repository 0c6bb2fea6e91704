export * from './etcd-connection';
export * from './records';
export * from './state-store';
export * from './sample-reader';
export * from './transactions';
export * from './watch';

export * from './join.js';
export * from './feed-client.js';
export * from './step-reporter.js';
export * from './replica-status.js';
export * from './replica-readiness.js';
export * from './resync-request.js';
export * from './snapshot-download.js';

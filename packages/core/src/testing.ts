/**
 * @otpgate/core/testing: what the tests of other packages need from core and its public face does not offer (as
 * undici gives its tests MockAgent): a snapshot file applied on the test's own thread.
 */
export { applySnapshotFile } from './store/replication.js';

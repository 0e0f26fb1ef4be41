/**
 * A RADIUS worker thread: opens the node's store, serves RADIUS on its own SO_REUSEPORT sockets (RadiusService), and
 * reports to the main thread — log lines, the addresses it listens on, whether it can write the state database, its
 * metrics when asked. It stops when told to, answering what is in flight first.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../logger.js';
import { Metrics } from '../metrics.js';
import { nodeName } from '../node-name.js';
import { Store } from '../store/store.js';
import { StoreHealth, probeStateWrite } from '../store/store-health.js';
import { RadiusService } from '../radius/radius-service.js';
import { ThreadLogStream } from './thread-log-stream.js';
import type { FromThread, RadiusThreadData, ToThread } from './messages.js';
import { errorMessage } from '@otpgate/shared';

const port = parentPort!;
const data = workerData as RadiusThreadData;
const send = (message: FromThread) => port.postMessage(message);
const logStream = new ThreadLogStream(port);
const logger = createLogger(data.config.log.level, nodeName(data.config), logStream).child({ worker: data.index });
const metrics = new Metrics({ processMetrics: false });

let service: RadiusService | undefined;
let store: Store | undefined;
let health: StoreHealth | undefined;
try {
  // the state database's lock is waited for without blocking this thread (see write-batcher.ts); its checkpoints are
  // the main thread's (state-checkpoints.ts)
  store = await Store.open(data.config.node.data_dir, { stateBusyTimeoutMs: 0, stateAutoCheckpoint: false });
  // no logger: the main thread hears of it and says so, once a minute for the whole node
  health = new StoreHealth(undefined, (writable) => {
    metrics.storeWritable.set(writable ? 1 : 0);
    send({ type: 'store', problem: writable ? undefined : health?.problem });
  });
  service = new RadiusService({ config: data.config, listen: data.listen, store, logger, metrics, health, node: nodeName(data.config) });
  await service.start();
  send({ type: 'listening', addresses: service.server.addresses(), clients: service.clientCount });
  // while writes fail, a small write each second: the thread says it can write again without waiting for traffic
  const opened = store;
  setInterval(() => health?.recheck(() => probeStateWrite(opened.state)), 1000).unref();
} catch (err) {
  logger.error({ err: errorMessage(err) }, 'RADIUS worker could not start');
  logStream.flush();
  store?.close();
  send({ type: 'failed', message: errorMessage(err) });
  process.exit(1);
}

port.on('message', (message: ToThread) => {
  if (message.type === 'metrics') {
    void metrics.registry.getMetricsAsJSON().then((values) => send({ type: 'metrics', id: message.id, metrics: values }));
  } else if (message.type === 'stop') {
    void (async () => {
      await service?.stop(message.graceMs);
      store?.close();
      logStream.flush();
      send({ type: 'stopped' });
      port.close();
    })();
  }
});

import type { Settings } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { BackendRegistry } from '../backends/registry.js';
import type { AuthRepository } from '../store/auth-repository.js';
import type { AuthPorts } from './types.js';

/** The pipeline's ports over a node's store and backends: what `serve` and the offline `check` command both use. */
export function createAuthPorts(deps: {
  repository: AuthRepository;
  backends: BackendRegistry;
  metrics: Metrics;
  logger: Logger;
  settings: () => Settings;
}): AuthPorts {
  const { repository, metrics, logger } = deps;
  return {
    findUser: (username) => repository.findUser(username),
    consume: (user, token, step, drift, requestKey) => repository.useStep(user, token, step, drift, requestKey),
    recordFailure(user) {
      if (repository.recordFailure(user)) {
        metrics.lockouts.inc();
        logger.warn({ event: 'lockout', user: user.username }, `account ${user.username} locked after repeated failures`);
      }
      return Promise.resolve();
    },
    recordSuccess: (user) => repository.recordSuccess(user),
    passwords: (chain) => deps.backends.chain(chain),
    useInitialLogin: (user, maxLogins) => repository.useInitialLogin(user, maxLogins),
    createChallenge: (challenge, ttl, requestKey) => repository.createChallenge(challenge, ttl, requestKey),
    takeChallenge: (state, client) => repository.takeChallenge(state, client),
    lockedUntil: (user) => repository.lockedUntil(user.id),
    now: Date.now,
    settings: deps.settings,
  };
}

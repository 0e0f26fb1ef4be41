import type { Settings } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { PasswordBackend } from '../backends/backend.js';
import type { AuthRepository } from '../store/auth-repository.js';
import { ChallengeStore } from './challenges.js';
import type { AuthPorts } from './types.js';

/** Count and time every password check by backend and outcome. */
export function instrumentBackend(backend: PasswordBackend, metrics: Metrics): PasswordBackend {
  return {
    name: backend.name,
    async verify(subject, password) {
      const end = metrics.backendLatency.startTimer({ backend: backend.name });
      const result = await backend.verify(subject, password);
      end();
      metrics.backendRequests.inc({ backend: result.backend, outcome: result.outcome });
      return result;
    },
  };
}

/** The pipeline's ports over a node's store: what `serve` and the offline `check` command both use. */
export function createAuthPorts(deps: {
  repository: AuthRepository;
  password: PasswordBackend;
  metrics: Metrics;
  logger: Logger;
  settings: () => Settings;
  challenges?: ChallengeStore;
}): AuthPorts {
  const { repository, metrics, logger } = deps;
  return {
    findUser: (username) => repository.findUser(username),
    consume: (_user, token, step, drift) => repository.consume(token.id, step, drift),
    async recordFailure(user) {
      if (await repository.recordFailure(user.id)) {
        metrics.lockouts.inc();
        logger.warn({ event: 'lockout', user: user.username }, `account ${user.username} locked after repeated failures`);
      }
    },
    recordSuccess: (user) => repository.recordSuccess(user.id),
    password: instrumentBackend(deps.password, metrics),
    challenges: deps.challenges ?? new ChallengeStore(),
    now: Date.now,
    settings: deps.settings,
  };
}

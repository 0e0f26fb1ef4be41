import { randomUUID } from 'node:crypto';
import type { Settings } from '@otpgate/shared';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { BackendRegistry } from '../backends/registry.js';
import type { AuthRepository } from '../store/auth-repository.js';
import type { StepClaimer } from '../cluster/step-claimer.js';
import { vpnPasswordHash } from '../vpn/vpn-password.js';
import type { HeldPushes } from '../push/held-pushes.js';
import type { AuthPorts } from './types.js';

/** The pipeline's ports over a node's store and backends: what `serve` and the offline `check` command both use. */
export function createAuthPorts(deps: {
  repository: AuthRepository;
  backends: BackendRegistry;
  metrics: Metrics;
  logger: Logger;
  settings: () => Settings;
  /** A replica's calls to the master: claims on used codes (cluster.replay_claim), VPN credentials. Absent on a master. */
  claimer?: StepClaimer;
  /** Logins held for push approval (a RADIUS thread's); absent outside RADIUS, where no login is held. */
  pushes?: HeldPushes;
}): AuthPorts {
  const { repository, metrics, logger, claimer } = deps;
  return {
    findUser: (username) => repository.findUser(username),
    async consume(user, token, step, drift, requestKey) {
      const use = await repository.useStep(user, token, step, drift, requestKey);
      if (use !== 'used' || !claimer || claimer.mode === 'off') return use;
      const claim = await claimer.claim({ token_id: token.id, last_step: step, drift });
      if (claim === 'claimed') repository.markClaimed(token.id, step);
      if (claim === 'replay') return 'replay';
      return claim === 'unavailable' && claimer.mode === 'strict' ? 'unconfirmed' : 'used';
    },
    useVpnCredential(user, password, client, requestKey) {
      const hash = vpnPasswordHash(password);
      // outside RADIUS (otpgate check) no retransmission can come: a key of its own
      const key = requestKey ?? `once:${randomUUID()}`;
      if (!claimer) return repository.useVpnCredential(user, hash, client, key);
      return claimer.useVpnCredential({ hash, user_id: user.id, client, request_key: key });
    },
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
    push(request) {
      if (!deps.pushes) return Promise.resolve('unavailable');
      const timeoutSeconds = deps.settings().push.timeout_seconds;
      const push = {
        request_key: `${request.client}|${request.authenticator}|${request.user.id}`,
        user_id: request.user.id,
        username: request.user.username,
        client: request.client,
        client_address: request.clientAddress,
        ...(request.number === undefined ? {} : { number: request.number }),
      };
      return deps.pushes.hold(push, timeoutSeconds * 1000);
    },
    lockedUntil: (user) => repository.lockedUntil(user.id),
    now: Date.now,
    settings: deps.settings,
  };
}

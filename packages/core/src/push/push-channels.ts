/**
 * Where a RADIUS thread makes pushes and hears their decisions: the state database on the master, the master itself
 * (over the replica's kept-alive claim connection, cluster/step-claimer.ts) on a replica.
 */
import type { Settings } from '@otpgate/shared';
import type { AuthRepository } from '../store/auth-repository.js';
import type { StepClaimer } from '../cluster/step-claimer.js';
import type { PushChannel } from './held-pushes.js';

export function localPushChannel(repository: AuthRepository, settings: () => Settings): PushChannel {
  return {
    create: (push) => {
      const s = settings().push;
      return repository.createPush(push, { timeoutMs: s.timeout_seconds * 1000, perMinute: s.max_per_user_per_minute });
    },
    decisions: (since) => Promise.resolve(repository.pushDecisions(since)),
  };
}

export function masterPushChannel(claimer: StepClaimer): PushChannel {
  return {
    // the master names the user from its own store: only the id goes
    create: ({ username: _username, ...push }) => claimer.createPush(push),
    decisions: (since) => claimer.pushDecisions(since),
  };
}

/** No master to ask (a replica not enrolled yet): every push is unavailable. */
export const NO_PUSH_CHANNEL: PushChannel = {
  create: () => Promise.resolve('unavailable'),
  decisions: () => Promise.resolve('unavailable'),
};

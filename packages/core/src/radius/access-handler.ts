import { REJECT_REASON_TEXT, formatIpv6, type Settings } from '@otpgate/shared';
import { authenticate } from '../auth/pipeline.js';
import { policyNote, type AuthPorts, type Decision } from '../auth/types.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { AuthLogRecord } from '../store/auth-repository.js';
import { ATTR, CODE } from './constants.js';
import { decodeUserPassword } from './authenticators.js';
import { octetsAttribute, stringAttribute } from './response.js';
import type { ReplyAttributeEncoder } from './reply-attributes.js';
import type { AccessRequestHandler, RadiusAnswer } from './server.js';

export interface AccessHandlerDeps {
  ports: AuthPorts;
  attributes: ReplyAttributeEncoder;
  audit: (record: AuthLogRecord) => void;
  logger: Logger;
  metrics: Metrics;
  node: string;
  settings: () => Settings;
}

function text(value: Buffer | undefined): string {
  if (!value) return '';
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  return value.toString('utf8', 0, end);
}

/** The NAS address for the log and the audit row: NAS-IP-Address, else NAS-IPv6-Address in its RFC 5952 form. */
export function nasAddressText(v4: Buffer | undefined, v6: Buffer | undefined): string {
  if (v4?.length === 4) return `${v4[0]}.${v4[1]}.${v4[2]}.${v4[3]}`;
  if (v6?.length === 16) return formatIpv6(v6);
  return '';
}

/**
 * Access-Request -> pipeline -> answer, with the per-request log line (user, client, result, reason, latency,
 * backend: never the password or code), the reject-reason metric and the audit row.
 */
export function createAccessHandler(deps: AccessHandlerDeps): AccessRequestHandler {
  return async (request, client, source) => {
    const started = process.hrtime.bigint();
    const username = text(request.userName);
    let decision: Decision;
    if (!request.userName) {
      decision = { outcome: 'reject', reason: 'unknown-user', detail: 'the request has no User-Name' };
    } else if (!request.userPassword && (request.hasChap || request.hasEap)) {
      decision = {
        outcome: 'reject',
        reason: 'missing-password',
        detail: `${request.hasEap ? 'EAP' : 'CHAP'} is not supported; configure the client for PAP`,
      };
    } else {
      const password = request.userPassword
        ? decodeUserPassword(request.userPassword, request.authenticator, client.secret).toString('utf8')
        : '';
      const authenticator = request.authenticator.toString('hex');
      decision = await authenticate(
        {
          username,
          password,
          state: request.state,
          requestKey: `${source.address}|${source.port}|${request.identifier}|${authenticator}`,
          source: source.address,
          authenticator,
          client: { name: client.name, mode: client.auth_mode, backends: client.backends, singleFactor: client.single_factor },
        },
        deps.ports,
      );
    }

    const answer = toAnswer(decision, client.on_backend_error, deps);
    const latencyUs = Number((process.hrtime.bigint() - started) / 1000n);
    const result = 'drop' in answer ? 'drop' : decision.outcome;
    const reason = decision.outcome === 'reject' ? decision.reason : null;
    const backend = decision.backend ?? null;
    const policy = decision.outcome === 'accept' ? (decision.policy ?? null) : null;
    const detail = decision.outcome === 'reject' ? (decision.detail ?? null) : null;
    if (reason) deps.metrics.rejects.inc({ reason });
    const logged = {
      event: 'auth',
      user: decision.user?.username ?? username,
      client: client.name,
      source: `${source.address}:${source.port}`,
      nas_ip: nasAddressText(request.nasIpAddress, request.nasIpv6Address),
      calling_station: text(request.callingStationId),
      result,
      reason,
      detail,
      policy,
      backend,
      latency_ms: latencyUs / 1000,
    };
    deps.logger.info(logged, `${result}${reason ? ` (${reason})` : ''}${policy ? ` (${policyNote(policy)})` : ''} ${logged.user} from ${client.name}`);
    deps.audit({
      at: Date.now(),
      node: deps.node,
      username: logged.user,
      client: client.name,
      source: logged.source,
      nas_ip: logged.nas_ip,
      calling_station: logged.calling_station,
      result,
      reason,
      backend,
      latency_us: latencyUs,
      detail,
      policy,
    });
    return answer;
  };
}

function toAnswer(decision: Decision, onBackendError: 'reject' | 'drop', deps: AccessHandlerDeps): RadiusAnswer {
  switch (decision.outcome) {
    case 'accept':
      return { code: CODE.ACCESS_ACCEPT, attributes: deps.attributes.forUser(decision.groups, decision.user.attributesJson) };
    case 'challenge':
      return {
        code: CODE.ACCESS_CHALLENGE,
        attributes: [stringAttribute(ATTR.REPLY_MESSAGE, decision.prompt), octetsAttribute(ATTR.STATE, decision.state)],
      };
    case 'reject': {
      if (decision.reason === 'overloaded') {
        // a reject would lock the user out of a busy server; silence makes the NAS retry or ask its next server
        return { drop: 'overload', detail: `too many password checks waiting (${decision.detail ?? ''}); no reply` };
      }
      if (decision.reason === 'backend-error' && onBackendError === 'drop') {
        // silence makes the NAS ask its next server, whose backend may be reachable
        return { drop: 'backend-error', detail: `password backend could not answer (${decision.detail ?? 'no detail'}); no reply so the client fails over` };
      }
      const reveal = deps.settings().auth.reveal_reject_reason;
      return {
        code: CODE.ACCESS_REJECT,
        attributes: reveal ? [stringAttribute(ATTR.REPLY_MESSAGE, REJECT_REASON_TEXT[decision.reason])] : [],
      };
    }
  }
}

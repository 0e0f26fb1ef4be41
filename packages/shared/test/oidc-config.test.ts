import { describe, expect, it } from 'vitest';
import { ValidationError, parseNodeConfig, oidcRedirectUri, type ValidationProblem } from '@otpgate/shared';

const BASE = '/etc/otpgate';
const PORTAL = 'portal:\n  rp_id: vpn.example.com\n  origin: https://vpn.example.com:9443\n  oidc:\n';
const ENTRA = '    - name: entra\n      issuer: https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0\n      client_id: 6731de76-14a6-49ae-97bc-6eba6914391e\n';

function problems(text: string): ValidationProblem[] {
  try {
    parseNodeConfig(text, 'otpgate.yaml', BASE);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).problems;
  }
  throw new Error('config was accepted');
}

describe('portal.oidc', () => {
  it('takes a provider with defaults, and resolves its files from the config folder', () => {
    const c = parseNodeConfig(`${PORTAL}${ENTRA}      client_secret_file: entra.secret\n      ca_file: /etc/ssl/idp.pem\n      group: vpn-users\n`, 'otpgate.yaml', BASE);
    expect(c.portal.oidc).toEqual([
      {
        name: 'entra',
        label: 'entra',
        issuer: 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0',
        client_id: '6731de76-14a6-49ae-97bc-6eba6914391e',
        client_secret_file: '/etc/otpgate/entra.secret',
        ca_file: '/etc/ssl/idp.pem',
        scopes: ['openid', 'profile', 'email'],
        match_claim: 'preferred_username',
        group: 'vpn-users',
        groups_claim: 'groups',
        mfa: false,
      },
    ]);
    expect(parseNodeConfig('', 'otpgate.yaml', BASE).portal.oidc).toEqual([]);
    expect(oidcRedirectUri('https://vpn.example.com:9443', 'entra')).toBe('https://vpn.example.com:9443/account/oidc/entra/callback');
  });

  it('refuses a plain-http issuer, a shared Entra tenant, a trailing slash, and a switch to turn the https check off', () => {
    const paths = (text: string) => problems(`${PORTAL}${text}`).map((p) => p.path);
    expect(paths('    - name: kc\n      issuer: http://idp.example.com/realms/x\n      client_id: a\n      client_secret: s\n')).toEqual(['portal.oidc[0].issuer']);
    expect(paths('    - name: kc\n      issuer: https://login.microsoftonline.com/common/v2.0\n      client_id: a\n      client_secret: s\n')).toEqual(['portal.oidc[0].issuer']);
    expect(paths('    - name: kc\n      issuer: https://login.microsoftonline.com/organizations/v2.0\n      client_id: a\n      client_secret: s\n')).toEqual(['portal.oidc[0].issuer']);
    expect(paths('    - name: kc\n      issuer: https://idp.example.com/realms/x/\n      client_id: a\n      client_secret: s\n')).toEqual(['portal.oidc[0].issuer']);
    expect(paths(`${ENTRA}      client_secret: s\n      allow_insecure: true\n`)).toEqual(['portal.oidc[0]']);
  });

  it('wants exactly one way to the secret, openid among the scopes, known claims, unique names and the portal origin', () => {
    const paths = (text: string) => problems(`${PORTAL}${text}`).map((p) => p.path);
    expect(paths(ENTRA)).toEqual(['portal.oidc[0].client_secret']);
    expect(paths(`${ENTRA}      client_secret: s\n      client_secret_file: f\n`)).toEqual(['portal.oidc[0].client_secret']);
    expect(paths(`${ENTRA}      client_secret: s\n      scopes: [profile]\n`)).toEqual(['portal.oidc[0].scopes']);
    expect(paths(`${ENTRA}      client_secret: s\n      match_claim: name\n`)).toEqual(['portal.oidc[0].match_claim']);
    expect(paths(`${ENTRA.replace('name: entra', 'name: Entra/ID')}      client_secret: s\n`)).toEqual(['portal.oidc[0].name']);
    expect(paths(`${ENTRA}      client_secret: s\n${ENTRA}      client_secret: t\n`)).toEqual(['portal.oidc[1].name']);
    expect(problems(`portal:\n  oidc:\n${ENTRA}      client_secret: s\n`).map((p) => p.path)).toEqual(['portal.origin']);
  });
});

import type { ServiceContext } from './context.js';
import { AdminService } from './admins.js';
import { BackendService } from './backends.js';
import { AuthLogService } from './auth-log.js';
import { ClientService } from './clients.js';
import { GroupService } from './groups.js';
import { SettingsService } from './settings.js';
import { TokenService } from './tokens.js';
import { UserService } from './users.js';
import { ImportService } from '../imports/import-service.js';
import { ConfigTransferService } from '../config-transfer/config-transfer-service.js';
import { VpnCredentialService } from '../vpn/credential-service.js';
import { PasskeyService } from '../passkeys/passkey-service.js';
import { OidcIdentityService } from '../oidc/identity-service.js';
import { VpnProfileService } from '../vpn/profile-service.js';

export * from './context.js';
export * from './users.js';
export * from './tokens.js';
export * from './clients.js';
export * from './groups.js';
export * from './settings.js';
export * from './admins.js';
export * from './backends.js';
export * from './auth-log.js';
export * from './admin-audit.js';

export interface Services {
  users: UserService;
  tokens: TokenService;
  clients: ClientService;
  groups: GroupService;
  settings: SettingsService;
  admins: AdminService;
  backends: BackendService;
  authLog: AuthLogService;
  imports: ImportService;
  configTransfer: ConfigTransferService;
  vpnCredentials: VpnCredentialService;
  passkeys: PasskeyService;
  oidcIdentities: OidcIdentityService;
  vpnProfiles: VpnProfileService;
}

export function createServices(ctx: ServiceContext): Services {
  return {
    users: new UserService(ctx),
    tokens: new TokenService(ctx),
    clients: new ClientService(ctx),
    groups: new GroupService(ctx),
    settings: new SettingsService(ctx),
    admins: new AdminService(ctx),
    backends: new BackendService(ctx),
    authLog: new AuthLogService(ctx),
    imports: new ImportService(ctx),
    configTransfer: new ConfigTransferService(ctx),
    vpnCredentials: new VpnCredentialService(ctx),
    passkeys: new PasskeyService(ctx),
    oidcIdentities: new OidcIdentityService(ctx),
    vpnProfiles: new VpnProfileService(ctx),
  };
}

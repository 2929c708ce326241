// The post-login event and api of this runtime, shaped like Auth0's `@auth0/actions` post-login v3
// declarations (Event, PostLoginAPI and their namespaces), plus the login result the handler
// returns. Checked by `npm run typecheck` (tsconfig.json, checkJs over js/).

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface User {
  user_id: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  nickname?: string;
  given_name?: string;
  family_name?: string;
  picture?: string;
  phone_number?: string;
  phone_verified?: boolean;
  username?: string;
  created_at?: string;
  updated_at?: string;
  last_password_reset?: string;
  app_metadata: { [key: string]: any };
  user_metadata: { [key: string]: any };
  identities: Array<{
    connection?: string;
    isSocial?: boolean;
    provider?: string;
    user_id?: string;
    profileData?: { [key: string]: string };
    [key: string]: any;
  }>;
  multifactor?: string[];
  enrolledFactors?: Array<{ type: string; options?: { [key: string]: any }; [key: string]: any }>;
  [key: string]: any;
}

export interface GeoIp {
  cityName?: string;
  continentCode?: string;
  countryCode?: string;
  countryCode3?: string;
  countryName?: string;
  latitude?: number;
  longitude?: number;
  subdivisionCode?: string;
  subdivisionName?: string;
  timeZone?: string;
  [key: string]: any;
}

export type TransactionProtocol =
  | "oidc-basic-profile"
  | "oidc-ciba"
  | "oidc-ciba-web-link"
  | "oidc-implicit-profile"
  | "oauth2-device-code"
  | "oauth2-resource-owner"
  | "oauth2-resource-owner-jwt-bearer"
  | "oauth2-password"
  | "oauth2-webauthn"
  | "oauth2-access-token"
  | "oauth2-refresh-token"
  | "oauth2-token-exchange"
  | "oidc-hybrid-profile"
  | "samlp"
  | "wsfed"
  | "wstrust-usernamemixed";

/** The event input a caller sends to POST /post-login (no secrets, no configuration). */
export interface PostLoginEventInput {
  user: Partial<User> & { user_id: string };
  client?: {
    client_id: string;
    name: string;
    metadata?: { [key: string]: string };
    refresh_token?: { policies?: Array<{ audience?: string; scope?: string[] }> };
  };
  connection?: { id: string; name: string; strategy: string; metadata?: { [key: string]: string } };
  request?: {
    ip?: string;
    method?: string;
    hostname?: string;
    user_agent?: string;
    language?: string;
    asn?: string;
    query?: { [key: string]: any };
    body?: { [key: string]: any };
    geoip?: GeoIp;
  };
  tenant?: { id: string };
  transaction?: {
    id?: string;
    protocol?: TransactionProtocol | string;
    requested_scopes?: string[];
    acr_values?: string[];
    ui_locales?: string[];
    locale?: string;
    login_hint?: string;
    prompt?: string[];
    redirect_uri?: string;
    response_mode?: "query" | "fragment" | "form_post" | "web_message";
    response_type?: Array<"code" | "token" | "id_token">;
    state?: string;
    correlation_id?: string;
    linking_id?: string;
    requested_authorization_details?: Array<{ type: string; [key: string]: any }>;
    actor?: { sub: string; [key: string]: any };
    actor_token_type?: string;
    subject_token_type?: string;
    metadata?: { [key: string]: string | number | boolean };
    [key: string]: any;
  };
  authentication?: {
    methods: Array<{ name: string; timestamp: string; [key: string]: any }>;
    riskAssessment?: {
      confidence: "low" | "medium" | "high" | "neutral";
      version: string;
      assessments: { [key: string]: any };
      supplemental?: { [key: string]: any };
    };
  };
  authorization?: { roles: string[] };
  organization?: {
    id: string;
    name: string;
    display_name: string;
    metadata: { [key: string]: string };
    [key: string]: any;
  };
  stats?: { logins_count: number };
  resource_server?: { identifier: string };
  custom_domain?: { domain: string; domain_metadata: { [key: string]: string } };
  session?: {
    id: string;
    actor?: { sub: string; [key: string]: string | number | boolean | null };
    authenticated_at?: string;
    clients?: Array<{ client_id: string }>;
    cookie?: { mode: "persistent" | "non-persistent" };
    created_at?: string;
    device?: { [key: string]: string | undefined };
    expires_at?: string;
    idle_expires_at?: string;
    last_interacted_at?: string;
    metadata?: { [key: string]: any };
    session_transfer?: { parent_refresh_token?: { id?: string; metadata?: { [key: string]: any } } };
    updated_at?: string;
    user_id?: string;
  };
  refresh_token?: {
    id: string;
    client_id?: string;
    created_at?: string;
    device?: { [key: string]: string | undefined };
    expires_at?: string;
    idle_expires_at?: string;
    last_exchanged_at?: string;
    metadata?: { [key: string]: any };
    resource_servers?: Array<{ audience: string; scopes: string }>;
    rotating?: boolean;
    session_id?: string;
    session_transfer?: { parent_refresh_token?: { id?: string } };
    user_id?: string;
    [key: string]: any;
  };
  prompt?: { id: string; fields?: { [key: string]: any }; vars?: { [key: string]: any } };
  security_context?: { ja3?: string; ja4?: string };
  session_transfer_token?: {
    client_id: string;
    request: { ip: string; asn?: string; user_agent?: string; geoip?: GeoIp };
    scope: string[];
  };
}

/** What an Action receives: a writable copy of the input with Auth0's defaults. */
export type Event = Omit<PostLoginEventInput, "user" | "stats"> & {
  user: User;
  stats: { logins_count: number };
  readonly secrets: Readonly<{ [name: string]: string }>;
  readonly configuration: Readonly<{ [name: string]: string }>;
};

export type CacheWriteErrorCode =
  | "MaxSideEffectsExceeded"
  | "CacheKeySizeExceeded"
  | "CacheValueSizeExceeded"
  | "CacheSizeExceeded"
  | "ItemAlreadyExpired"
  | "InvalidExpiry"
  | "FailedToSetCacheRecord"
  | "FailedToDeleteCacheRecord"
  | "CacheKeyDoesNotExist";
export interface CacheRecord {
  value: string;
  expires_at: number;
}
export interface CacheAPI {
  get(key: string): CacheRecord | undefined;
  set(
    key: string,
    value: string,
    options?: { ttl?: number; expires_at?: number },
  ): { type: "success"; record: CacheRecord } | { type: "error"; code: CacheWriteErrorCode };
  delete(key: string): { type: "success" } | { type: "error"; code: CacheWriteErrorCode };
}

export type ChallengeFactor =
  | {
      type: "otp" | "email" | "webauthn-platform" | "webauthn-roaming" | "recovery-code";
      options?: { [key: string]: any };
    }
  | { type: "phone"; options?: { preferredMethod?: "sms" | "voice" | "both" } }
  | { type: "push" | "push-notification"; options?: { otpFallback?: boolean } };
export type EnrollmentFactor =
  | {
      type: "otp" | "webauthn-platform" | "webauthn-roaming" | "push" | "push-notification" | "recovery-code";
      options?: { [key: string]: any };
    }
  | { type: "phone"; options?: { preferredMethod?: "sms" | "voice" | "both" } };

export type MultifactorProvider = "duo" | "none" | "guardian" | "google-authenticator" | "any";
export interface DuoProviderOptions {
  host: string;
  ikey: string;
  skey: string;
  username?: string;
}
export type SamlAttributeValue = string | number | boolean | null | Array<string | number | boolean>;

/** A group of the user, as `@auth0/actions` post-login v3 `UserGroupMembership` declares it. */
export interface UserGroupMembership {
  id: string;
  name: string;
  external_id?: string;
  /** Set for a connection group. */
  connection_id?: string;
  tenant_name: string;
  created_at: string;
  updated_at: string;
  membership_created_at: string;
  /** The method with which the group was assigned to the user (in the types; the Management API may omit it). */
  assignment?: string;
  [key: string]: unknown;
}

export interface PostLoginAPI {
  readonly access: { deny(reason: string): PostLoginAPI };
  readonly accessToken: {
    setCustomClaim(key: string, value: unknown): PostLoginAPI;
    addScope(scope: string): void;
    removeScope(scope: string): void;
  };
  readonly authentication: {
    challengeWith(factor: ChallengeFactor, options?: { additionalFactors?: ChallengeFactor[] }): void;
    challengeWithAny(factors: ChallengeFactor[]): void;
    enrollWith(factor: EnrollmentFactor, options?: { additionalFactors?: EnrollmentFactor[] }): void;
    enrollWithAny(factors: EnrollmentFactor[]): void;
    recordMethod(provider_url: string): PostLoginAPI;
    setPrimaryUser(primary_user_id: string): void;
  };
  readonly cache: CacheAPI;
  /** Answered by the Management API (`GET /api/v2/users/{id}/groups`): see README, api.groups. */
  readonly groups: {
    getUserGroups(params?: {
      take?: number;
      from?: string;
    }): Promise<{ groups: UserGroupMembership[]; next?: string }>;
    hasGroupMembership(groups: string[]): Promise<{
      memberships: {
        [group: string]: {
          is_member: boolean;
          matches?: Array<{ id: string; name: string; group_type: string }>;
        };
      };
      errors?: { [group: string]: string };
    }>;
  };
  readonly idToken: { setCustomClaim(key: string, value: unknown): PostLoginAPI };
  readonly multifactor: {
    enable<T extends MultifactorProvider>(
      provider: T,
      options?: {
        allowRememberBrowser?: boolean;
        providerOptions?: T extends "duo" ? DuoProviderOptions : never;
      },
    ): PostLoginAPI;
  };
  readonly prompt: {
    render(
      promptId: string,
      promptOptions?: { fields?: { [key: string]: any }; vars?: { [key: string]: any } },
    ): void;
  };
  readonly redirect: {
    encodeToken(options: {
      secret: string;
      payload: { [key: string]: unknown };
      expiresInSeconds?: number;
    }): string;
    sendUserTo(url: string, options?: { query?: { [param: string]: string } }): PostLoginAPI;
    /** @deprecated as in Auth0: handle `interaction_required` instead. */
    canRedirect(): boolean;
    validateToken(options: { secret: string; tokenParameterName?: string }): any;
  };
  readonly refreshToken: {
    revoke(reason: string): void;
    setExpiresAt(absolute: number): void;
    setIdleExpiresAt(inactivity: number): void;
    setMetadata(key: string, value: string | null): void;
    deleteMetadata(key: string): void;
    evictMetadata(): void;
  };
  readonly rules: { wasExecuted(ruleId: string): boolean };
  readonly samlResponse: {
    setAttribute(attribute: string, value: SamlAttributeValue | undefined): void;
    setAudience(audience: string): void;
    setRecipient(recipient: string): void;
    setCreateUpnClaim(createUpnClaim: boolean): void;
    setPassthroughClaimsWithNoMapping(value: boolean): void;
    setMapUnknownClaimsAsIs(value: boolean): void;
    setMapIdentities(value: boolean): void;
    setSignatureAlgorithm(algorithm: "rsa-sha256" | "rsa-sha1"): void;
    setDigestAlgorithm(algorithm: "sha256" | "sha1"): void;
    setDestination(destination: string): void;
    setLifetimeInSeconds(lifetimeInSeconds: number): void;
    setSignResponse(signResponse: boolean): void;
    setNameIdentifierFormat(nameIdentifierFormat?: string): void;
    setNameIdentifierProbes(probes: string[]): void;
    setAuthnContextClassRef(authnContextClassRef: string): void;
    setSigningCert(signingCert: string): void;
    setIncludeAttributeNameFormat(value: boolean): void;
    setTypedAttributes(value: boolean): void;
    setEncryptionCert(encryptionCert: string): void;
    setEncryptionPublicKey(encryptionPublicKey: string): void;
    setCert(cert: string): void;
    setKey(key: string): void;
    setRelayState(relayState: string): void;
    setIssuer(issuer: string): void;
    setEncryptionAlgorithm(algorithm: "aes256-gcm" | "aes256-cbc"): void;
  };
  readonly session: {
    revoke(reason: string, options?: { preserveRefreshTokens?: boolean }): void;
    setExpiresAt(absolute: number): void;
    setIdleExpiresAt(inactivity: number): void;
    setCookieMode(mode: "persistent" | "non-persistent"): void;
    setMetadata(key: string, value: string | null): void;
    deleteMetadata(key: string): void;
    evictMetadata(): void;
  };
  readonly transaction: { setMetadata(key: string, value: string | number | boolean | null): void };
  readonly user: {
    setAppMetadata(key: string, value: unknown): PostLoginAPI;
    setUserMetadata(key: string, value: unknown): PostLoginAPI;
  };
  readonly validation: { error(errorCode: string, errorMessage: string): PostLoginAPI };
}

export interface PostLoginAction {
  onExecutePostLogin(event: Event, api: PostLoginAPI): Promise<void>;
  onContinuePostLogin?(event: Event, api: PostLoginAPI): Promise<void>;
}

/** The 200 body of POST /post-login and POST /continue-login (README, "Login handler contract"). */
export interface LoginResult {
  access: { denied: boolean; reason: string | null; action: string | null };
  idToken: { claims: { [claim: string]: JsonValue } };
  accessToken: { claims: { [claim: string]: JsonValue }; scopes: { added: string[]; removed: string[] } };
  user: {
    app_metadata: { [key: string]: JsonValue } | null;
    user_metadata: { [key: string]: JsonValue } | null;
  };
  multifactor: {
    provider: MultifactorProvider;
    allowRememberBrowser: boolean;
    providerOptions?: DuoProviderOptions;
  } | null;
  redirect: { url: string; action: string } | null;
  authentication?: {
    challenge: {
      method: "challengeWith" | "challengeWithAny" | "enrollWith" | "enrollWithAny";
      factors: Array<ChallengeFactor | EnrollmentFactor>;
      action: string;
    } | null;
    recordedMethods: Array<{ name: string; timestamp: string }>;
    primaryUser: string | null;
  };
  session?: {
    revoked: { reason: string; preserveRefreshTokens: boolean } | null;
    expiresAt: number | null;
    idleExpiresAt: number | null;
    cookieMode: "persistent" | "non-persistent" | null;
    metadata: { [key: string]: string } | null;
  };
  refreshToken?: {
    revoked: { reason: string } | null;
    expiresAt: number | null;
    idleExpiresAt: number | null;
    metadata: { [key: string]: string } | null;
  };
  transaction?: { metadata: { [key: string]: string | number | boolean } | null };
  samlResponse?: {
    attributes: { [attribute: string]: SamlAttributeValue };
    configuration: { [key: string]: JsonValue };
  };
  prompt?: { id: string; fields: { [key: string]: any }; vars: { [key: string]: any }; action: string };
  validation?: { code: string; message: string; action: string };
  /** Set when the login is suspended: pass it to POST /continue-login. */
  state?: string;
  error?: { code: "action_failed" | "execution_timeout" | "interaction_required"; action: string | null };
}

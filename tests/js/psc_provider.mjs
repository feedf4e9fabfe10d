// A stand-in for Pro Santé Connect (PSC), the OpenID provider of French health professionals, for
// the MSSanté bridge's tests: panva's oidc-provider with CIBA (poll mode), refresh tokens (always
// rotated) and token introspection, the endpoint Dovecot checks bearer tokens against.
//
// Started by tests/psc_helpers.py, which writes the settings as JSON on stdin:
//   {cert, key, client: {id, secret}, introspector: {id, secret}, access_ttl, refresh_ttl}
// It serves the OpenID routes over HTTPS on 127.0.0.1 (a free port, the issuer's) and the test
// controls over plain HTTP on another loopback port, then prints its only JSON line on stdout:
//   {"issuer": "https://127.0.0.1:PORT", "control": "http://127.0.0.1:PORT"}
// Controls (JSON bodies): POST /accounts {national_id, mailbox, claims?}; POST /clients
// {client_id, client_secret, redirect_uris}; GET /pending; POST /approve, /deny, /revoke
// {national_id}; POST /ttl {access?, refresh?}; GET /grants.
// Synapse's SSO (authorization code) goes through oidc-provider's development login and consent
// pages: any login is taken as the account's national id, any password accepted.
// Everything lives in memory (oidc-provider's development adapter): a restart loses the accounts,
// the pending requests, the grants and every token issued.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { text } from 'node:stream/consumers';

import Provider, { errors } from 'oidc-provider';

const CIBA = 'urn:openid:params:grant-type:ciba';
// Returned as the CIBA `interval` (oidc-provider returns none, and clients then wait 5 s, RFC):
// the tests poll every second. oidc-provider itself never answers slow_down.
const POLL_INTERVAL = 1;

const settings = JSON.parse(await text(process.stdin));
const ttl = { access: settings.access_ttl, refresh: settings.refresh_ttl };
const accounts = new Map(); // national id -> {mailbox, claims, grants: Set of grant ids}
const pending = new Map(); // auth_req_id -> {accountId, clientId, expiresAt, login_hint, ...}
const issued = {}; // grant_type -> tokens issued by the token endpoint

const server = https.createServer({
  cert: readFileSync(settings.cert), key: readFileSync(settings.key), minVersion: 'TLSv1.2',
});
await listen(server);
const issuer = `https://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      // The bridge: CIBA in poll mode, then refresh tokens.
      client_id: settings.client.id,
      client_secret: settings.client.secret,
      grant_types: [CIBA, 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      backchannel_token_delivery_mode: 'poll',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      // Dovecot: no grant of its own, it only introspects; its oauth2 passdb (2.3) puts its
      // credentials in the POST body, next to the token.
      client_id: settings.introspector.id,
      client_secret: settings.introspector.secret,
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  // A fresh signing key per run: nothing outlives the process anyway.
  jwks: { keys: [generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })] },
  scopes: ['openid', 'offline_access', 'scope_all'],
  // PSC's userinfo claims (scope_all), as the tests set them per account.
  claims: {
    openid: ['sub'],
    scope_all: ['SubjectNameID', 'preferred_username', 'given_name', 'family_name', 'SubjectRefPro'],
  },
  findAccount: (_ctx, id) => (accounts.has(id)
    ? { accountId: id, claims: () => ({ ...accounts.get(id).claims, sub: id }) } : undefined),
  // The mailbox the token opens, as introspection returns it (Dovecot's username_attribute).
  extraTokenClaims: (_ctx, token) => (token.kind === 'AccessToken'
    ? { mailbox: accounts.get(token.accountId)?.mailbox } : undefined),
  // Every refresh returns a new refresh token and consumes the old one (the default rotates a
  // confidential client's only after 70 % of its life). Presenting a consumed one again revokes
  // the whole grant: oidc-provider's reuse detection.
  rotateRefreshToken: true,
  ttl: {
    AccessToken: () => ttl.access,
    RefreshToken: () => ttl.refresh,
    // Longer than any refresh token: an expired grant would end its tokens early.
    Grant: () => 10 * 365 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: (_ctx, client) => client.clientId === settings.introspector.id,
    },
    ciba: {
      enabled: true,
      deliveryModes: ['poll'],
      processLoginHint: (_ctx, loginHint) => (accounts.has(loginHint) ? loginHint : undefined),
      processLoginHintToken: () => {
        throw new errors.InvalidRequest('login_hint_token is not supported, use login_hint');
      },
      validateRequestContext: () => {},
      verifyUserCode: () => {},
      // The e-CPS app would be notified here; the tests approve through the controls instead.
      triggerAuthenticationDevice: (ctx, request, account, client) => {
        pending.set(request.jti, {
          accountId: account.accountId,
          clientId: client.clientId,
          expiresAt: Date.now() + request.expiration * 1000,
          login_hint: ctx.oidc.params.login_hint,
          binding_message: ctx.oidc.params.binding_message ?? null,
          scope: request.scope,
        });
        ctx.body.interval = POLL_INTERVAL;
      },
    },
  },
});
provider.on('grant.success', (ctx) => {
  const type = ctx.oidc.params.grant_type;
  issued[type] = (issued[type] ?? 0) + 1;
});
// Like Keycloak (Pro Santé Connect's server), say how long the refresh token lives unused: the
// bridge renews it half-way through that, so an idle mailbox keeps its session.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route === 'token' && ctx.body?.refresh_token) {
    ctx.body.refresh_expires_in = ttl.refresh;
  }
});
provider.on('server_error', (_ctx, error) => console.error('server_error', error));
server.on('request', provider.callback());

const routes = {
  'POST /accounts': ({ national_id: id, mailbox, claims }) => {
    accounts.set(id, { mailbox, claims: claims ?? {}, grants: accounts.get(id)?.grants ?? new Set() });
    return {};
  },
  // A client of the authorization code flow (Synapse's SSO), kept like a registered one.
  'POST /clients': async ({ client_id, client_secret, redirect_uris }) => {
    await provider.Client.adapter.upsert(client_id, {
      client_id, client_secret, redirect_uris, grant_types: ['authorization_code'],
      response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    });
    return {};
  },
  'GET /pending': () => [...waiting()].map(([, r]) => (
    { login_hint: r.login_hint, binding_message: r.binding_message, scope: r.scope })),
  'POST /approve': async ({ national_id: id }) => {
    const [requestId, request] = latest(id);
    const grant = new provider.Grant({ accountId: id, clientId: request.clientId });
    grant.addOIDCScope(request.scope);
    const grantId = await grant.save();
    accounts.get(id).grants.add(grantId);
    await provider.backchannelResult(requestId, grantId, { authTime: Math.floor(Date.now() / 1000) });
    return {};
  },
  'POST /deny': async ({ national_id: id }) => {
    const [requestId] = latest(id);
    await provider.backchannelResult(requestId, new errors.AccessDenied('the user refused'));
    return {};
  },
  'POST /revoke': async ({ national_id: id }) => {
    const { grants } = accounts.get(id) ?? { grants: new Set() };
    for (const grantId of grants) {
      await Promise.all([provider.AccessToken, provider.RefreshToken, provider.BackchannelAuthenticationRequest]
        .map((model) => model.revokeByGrantId(grantId)));
      await provider.Grant.adapter.destroy(grantId);
    }
    grants.clear();
    return {};
  },
  'POST /ttl': ({ access, refresh }) => {
    ttl.access = access ?? ttl.access;
    ttl.refresh = refresh ?? ttl.refresh;
    return {};
  },
  'GET /grants': () => issued,
};

// CIBA requests not yet answered nor expired.
function* waiting() {
  for (const entry of pending) {
    if (entry[1].expiresAt > Date.now()) yield entry;
  }
}

// The account's most recent waiting request (what its phone shows), taken off the list.
function latest(accountId) {
  const found = [...waiting()].filter(([, r]) => r.accountId === accountId).pop();
  if (!found) throw Object.assign(new Error(`no pending request for ${accountId}`), { status: 404 });
  pending.delete(found[0]);
  return found;
}

const control = http.createServer(async (req, res) => {
  let status = 200;
  let body;
  try {
    const route = routes[`${req.method} ${req.url}`];
    if (!route) throw Object.assign(new Error(`no route ${req.method} ${req.url}`), { status: 404 });
    body = await route(JSON.parse((await text(req)) || '{}'));
  } catch (error) {
    status = error.status ?? 500;
    body = { error: error.message };
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});
await listen(control);

process.stdout.write(`${JSON.stringify({ issuer, control: `http://127.0.0.1:${control.address().port}` })}\n`);

function listen(s) {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
}

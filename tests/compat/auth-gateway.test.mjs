// The gateway in front of /auth/v1 (reference §1.2, §1.3) and the auth error shapes (§2.2), checked
// with raw HTTP requests, since supabase-js hides exactly these details.

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { anonKey, authFetch, baseUrl, jwtClaims, uniqueEmail } from './helpers.mjs';

const T = { timeout: 30_000 };

/** An HS256 JWT over `claims`, signed with `secret`. */
function signJwt(claims, secret) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** A password login that must fail: an address nobody registered. */
const badLogin = (apiVersion) =>
  authFetch('/token?grant_type=password', {
    method: 'POST',
    apiVersion,
    body: { email: uniqueEmail('nobody'), password: 'not-the-password', gotrue_meta_security: {} },
  });

test('/auth/v1 without an apikey is 401 "No API key found in request"', T, async () => {
  const res = await authFetch('/settings', { apikey: null });
  assert.equal(res.status, 401, res.text);
  assert.equal(res.json?.message, 'No API key found in request', res.text);
});

test('/auth/v1 with an unknown apikey is 401 "Invalid authentication credentials"', T, async () => {
  // A forged anon key: the real claims, signed with another secret.
  const forged = signJwt(jwtClaims(anonKey()), randomBytes(32).toString('hex'));
  for (const [label, apikey] of [['garbage', 'garbage'], ['forged JWT', forged]]) {
    const res = await authFetch('/settings', { apikey });
    assert.equal(res.status, 401, `${label}: ${res.text}`);
    assert.equal(res.json?.message, 'Invalid authentication credentials', `${label}: ${res.text}`);
  }
});

test('GET /auth/v1/settings with the anon key reports the e-mail provider and confirmations', T, async () => {
  const res = await authFetch('/settings');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.external?.email, true, res.text);
  assert.equal(res.json.disable_signup, false, res.text);
  assert.equal(res.json.mailer_autoconfirm, false, 'the runner sets BIZBASE_AUTH_AUTOCONFIRM=false');
});

test('GET /auth/v1/health is 200', T, async () => {
  const res = await authFetch('/health');
  assert.equal(res.status, 200, res.text);
});

test('GET /auth/v1/verify needs no apikey (e-mail links) and redirects errors with error_code', T, async () => {
  const res = await authFetch(`/verify?token=${'0'.repeat(56)}&type=recovery`, { apikey: null, apiVersion: null, redirect: 'manual' });
  assert.equal(res.status, 303, `${res.status} ${res.text}`);
  const location = res.headers.get('location') ?? '';
  assert.match(location, /error_code=otp_expired/, `location: ${location}`);
});

test('with X-Supabase-Api-Version: 2024-01-01 errors are {code, message} and the header is echoed', T, async () => {
  const res = await badLogin('2024-01-01');
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json?.code, 'invalid_credentials', res.text);
  assert.equal(typeof res.json.message, 'string', res.text);
  assert.ok(res.json.message.length > 0, res.text);
  assert.equal(res.headers.get('x-supabase-api-version'), '2024-01-01');
});

test('without X-Supabase-Api-Version errors use the legacy {code: status, error_code, msg} shape', T, async () => {
  const res = await badLogin(null);
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json?.code, 400, res.text);
  assert.equal(res.json.error_code, 'invalid_credentials', res.text);
  assert.equal(typeof res.json.msg, 'string', res.text);
  assert.equal(res.headers.get('x-sb-error-code'), 'invalid_credentials');
});

test('a CORS preflight to /auth/v1 allows the headers supabase-js sends and exposes the API version', T, async () => {
  const requested = 'apikey, authorization, content-type, x-client-info, x-supabase-api-version';
  const res = await fetch(`${baseUrl()}/auth/v1/token?grant_type=password`, {
    method: 'OPTIONS',
    headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': requested },
  });
  assert.ok(res.status === 200 || res.status === 204, `preflight status ${res.status}`);
  const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
  for (const header of requested.split(', ')) {
    assert.ok(allowed === '*' || allowed.split(/\s*,\s*/).includes(header), `allow-headers "${allowed}" lacks ${header}`);
  }

  const login = await fetch(`${baseUrl()}/auth/v1/token?grant_type=password`, {
    method: 'POST',
    headers: { origin: 'http://app.example', apikey: anonKey(), 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
    body: JSON.stringify({ email: uniqueEmail('cors'), password: 'x' }),
  });
  await login.arrayBuffer();
  const exposed = (login.headers.get('access-control-expose-headers') ?? '').toLowerCase();
  assert.ok(exposed.split(/\s*,\s*/).includes('x-supabase-api-version'), `expose-headers "${exposed}"`);
});

// Shared helpers for the supabase-js compatibility tests.
//
// The runner (tests/compat/run) starts a bizbase server on a fresh database and exports:
//   BIZBASE_URL, BIZBASE_ANON_KEY, BIZBASE_SERVICE_KEY, BIZBASE_DB_URL (the fresh database), and
//   BIZBASE_BIN (the server binary, for a test that starts a second server with other settings).
// Nothing here reads them at import time, so pure helpers (totp, jwtClaims) can be tested alone.

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite with \`bash tests/compat/run\``);
  return value;
}

export const baseUrl = () => env('BIZBASE_URL').replace(/\/+$/, '');
export const anonKey = () => env('BIZBASE_ANON_KEY');
export const serviceKey = () => env('BIZBASE_SERVICE_KEY');

/** A supabase-js client as a Node server-side app would create it (no storage, no timers). */
export function client(key = anonKey()) {
  return createClient(baseUrl(), key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket },
  });
}

/** A client holding the service_role key (for `auth.admin`). */
export const admin = () => client(serviceKey());

/** A fresh, lower-case e-mail address nobody else in the run uses. */
export function uniqueEmail(tag = 'user') {
  return `${tag}-${Date.now().toString(36)}-${randomBytes(5).toString('hex')}@example.com`;
}

/** A password that passes any reasonable strength policy. */
export function strongPassword() {
  return `Pw-${randomBytes(9).toString('base64url')}-9a`;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (bound, then let go for a server to take). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The payload of a JWT, decoded without verifying it. */
export function jwtClaims(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error(`not a JWT: ${token}`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238 over RFC 4226): HMAC-SHA-1, 6 digits, 30 s steps.

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(input) {
  const clean = String(input).toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const index = BASE32.indexOf(ch);
    if (index < 0) throw new Error(`invalid base32 character ${JSON.stringify(ch)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP value for `counter` with `digits` digits (zero-padded string). */
export function hotp(key, counter, digits = 6) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The TOTP code for a base32 secret at `timeSeconds` (default: now). */
export function totp(secretBase32, timeSeconds = Date.now() / 1000, { digits = 6, period = 30 } = {}) {
  return hotp(base32Decode(secretBase32), Math.floor(timeSeconds / period), digits);
}

// ---------------------------------------------------------------------------------------------
// Mail outbox (private.outbox in the test database). The server writes the mail in the same
// transaction as the request, so polling is only a safety margin.

let pool;
function db() {
  pool ??= new pg.Pool({
    connectionString: env('BIZBASE_DB_URL'),
    max: 2,
    idleTimeoutMillis: 1000,
    allowExitOnIdle: true, // lets the test process exit without an explicit pool.end()
  });
  return pool;
}

/** Every e-mail queued for `email` (optionally only one template), oldest first. */
/** Runs `text` with `params` on the server's database (for what no API does, such as letting time pass). */
export async function sql(text, params = []) {
  const { rows } = await db().query(text, params);
  return rows;
}

export async function mailsTo(email, template) {
  const { rows } = await db().query(
    `select id, payload, created_at
       from private.outbox
      where kind = 'email'
        and lower(payload->>'to') = lower($1)
        and ($2::text is null or payload->>'template' = $2)
      order by created_at, id`,
    [email, template ?? null],
  );
  return rows.map((row) => ({ id: row.id, createdAt: row.created_at, ...parseMailPayload(row.payload) }));
}

/**
 * The newest e-mail queued for `email` (optionally of one template: 'confirmation', 'recovery',
 * 'magiclink', 'email_change', 'invite', 'reauthentication'). Waits up to `timeoutMs`.
 * Returns {id, to, template, subject, text, otp, tokenHash, linkType, payload}.
 */
export async function latestMail(email, template, { timeoutMs = 5000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await mailsTo(email, template);
    if (mails.length > 0) return mails[mails.length - 1];
    if (Date.now() > deadline) {
      const what = template ? `"${template}" e-mail` : 'e-mail';
      const others = template ? (await mailsTo(email)).map((m) => JSON.stringify(m.template)) : [];
      const seen = others.length ? ` (templates queued for it: ${others.join(', ')})` : '';
      throw new Error(`no ${what} to ${email} in private.outbox after ${timeoutMs} ms${seen}`);
    }
    await sleep(100);
  }
}

/** Picks the OTP and the link's token hash out of an outbox e-mail payload. */
export function parseMailPayload(payload) {
  payload ??= {};
  const text = String(payload.text ?? '');
  // The OTP is the first stand-alone 6-digit number outside any URL (ports/hashes live in URLs).
  const withoutUrls = text.replace(/\bhttps?:\/\/\S+/g, ' ');
  const link = /[?&]token=([^&\s"'<>]+)&type=([A-Za-z_]+)/.exec(text);
  return {
    to: payload.to,
    template: payload.template,
    subject: payload.subject,
    text,
    otp: /\b(\d{6})\b/.exec(withoutUrls)?.[1] ?? null,
    tokenHash: link ? decodeURIComponent(link[1]) : null,
    linkType: link?.[2] ?? null,
    payload,
  };
}

// ---------------------------------------------------------------------------------------------
// Assertions and small flows shared by the test files.

/** Fails with the error's name, status, code and message (an AuthError prints poorly otherwise). */
export function assertNoError(error, what) {
  if (error) {
    assert.fail(`${what} failed: ${error.name} status=${error.status} code=${error.code}: ${error.message}`);
  }
}

/** Asserts an AuthError with the given `code` (string or list of accepted codes) and `status`. */
export function assertAuthError(error, { code, status } = {}, what = 'the call') {
  assert.ok(error, `${what} should have failed${code ? ` with ${code}` : ''}, but it succeeded`);
  const detail = `${what}: ${error.name} status=${error.status} code=${error.code}: ${error.message}`;
  if (code !== undefined) {
    const codes = [code].flat();
    assert.ok(codes.includes(error.code), `expected code ${codes.join(' or ')} — got ${detail}`);
  }
  if (status !== undefined) assert.equal(error.status, status, `expected status ${status} — got ${detail}`);
}

/** Asserts the §2.3 session shape; returns the decoded access-token claims. */
export function assertSession(session, { email, userId } = {}) {
  assert.ok(session, 'expected a session, got none');
  assert.equal(typeof session.access_token, 'string');
  assert.equal(typeof session.refresh_token, 'string');
  assert.ok(session.refresh_token.length > 0, 'refresh_token is empty');
  assert.equal(session.token_type, 'bearer');
  assert.ok(Number.isInteger(session.expires_in) && session.expires_in > 0, `expires_in = ${session.expires_in}`);
  assert.ok(Number.isInteger(session.expires_at), `expires_at = ${session.expires_at}`);
  assert.ok(session.user?.id, 'session.user.id missing');
  const claims = jwtClaims(session.access_token);
  assert.equal(claims.sub, session.user.id, 'JWT sub must be the user id');
  assert.equal(claims.aud, 'authenticated', 'JWT aud must be the string "authenticated"');
  assert.equal(claims.role, 'authenticated');
  assert.ok(claims.session_id, 'JWT session_id missing');
  if (email !== undefined) assert.equal(session.user.email, email);
  if (userId !== undefined) assert.equal(session.user.id, userId);
  return claims;
}

/** Creates a confirmed e-mail/password user with the admin API: {id, email, password, user}. */
export async function createConfirmedUser({ email = uniqueEmail(), password = strongPassword(), ...attrs } = {}) {
  const { data, error } = await admin().auth.admin.createUser({ email, password, email_confirm: true, ...attrs });
  assertNoError(error, `admin.createUser(${email})`);
  assert.ok(data.user?.id, 'admin.createUser returned no user id');
  return { id: data.user.id, email, password, user: data.user };
}

/** Signs in with e-mail and password on a new client: {sb, session}. */
export async function signedIn(email, password) {
  const sb = client();
  const { data, error } = await sb.auth.signInWithPassword({ email, password });
  assertNoError(error, `signInWithPassword(${email})`);
  assertSession(data.session, { email });
  return { sb, session: data.session };
}

/** `refreshSession` with an explicit refresh token, on a new client (no client-side caching). */
export function refreshWith(refreshToken) {
  return client().auth.refreshSession({ refresh_token: refreshToken });
}

/**
 * A raw request to `/auth/v1<path>`, shaped like supabase-js's (apikey, API version header, JSON
 * content type on non-GET). Pass `apikey: null` or `apiVersion: null` to leave those out.
 * Returns {status, headers, text, json}.
 */
export async function authFetch(path, { method = 'GET', apikey = anonKey(), bearer, apiVersion = '2024-01-01', body, redirect } = {}) {
  const headers = new Headers();
  if (apikey != null) headers.set('apikey', apikey);
  if (bearer != null) headers.set('authorization', `Bearer ${bearer}`);
  if (apiVersion != null) headers.set('x-supabase-api-version', apiVersion);
  if (method !== 'GET' && method !== 'HEAD') headers.set('content-type', 'application/json;charset=UTF-8');
  const res = await fetch(`${baseUrl()}/auth/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: redirect ?? 'follow',
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

// supabase-js `auth.getClaims()` against bizbase — how a Next.js middleware or server component reads
// who is signed in. With HS256 tokens (the default) supabase-js cannot check the signature itself and
// asks the server (`GET /user`); with an ES256 signing key it fetches `/.well-known/jwks.json` once
// and verifies the signature locally (reference §2.5). Both paths are driven here: the first against
// the suite's server, the second against a second bizbase on the same database with an ES256 key.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

import { assertNoError, createConfirmedUser, env, freePort, jwtClaims, signedIn, sleep } from './helpers.mjs';

const T = { timeout: 60_000 };

/** The token with one claim changed and the signature kept: what a forger can make. */
function forged(token, claims) {
  const [header, payload, signature] = token.split('.');
  const changed = { ...JSON.parse(Buffer.from(payload, 'base64url')), ...claims };
  return [header, Buffer.from(JSON.stringify(changed)).toString('base64url'), signature].join('.');
}

test('getClaims (HS256): the server verifies the token, so forged and signed-out tokens are refused', T, async () => {
  const user = await createConfirmedUser();
  const { sb, session } = await signedIn(user.email, user.password);

  const { data, error } = await sb.auth.getClaims();
  assertNoError(error, 'getClaims');
  assert.deepEqual(data.claims, jwtClaims(session.access_token));
  assert.equal(data.claims.sub, user.id);
  assert.equal(data.claims.aal, 'aal1');
  assert.equal(data.header.alg, 'HS256');

  const forgedToken = forged(session.access_token, { role: 'service_role' });
  const refused = await sb.auth.getClaims(forgedToken);
  assert.ok(refused.error, 'a token whose payload was changed is refused');
  assert.equal(refused.data, null);

  assertNoError((await sb.auth.signOut()).error, 'signOut');
  const afterSignOut = await sb.auth.getClaims(session.access_token);
  assert.ok(afterSignOut.error, 'the access token of a signed-out session no longer passes');
  // supabase-js turns GoTrue's `session_not_found` into this error (any other refusal would be an
  // AuthApiError carrying its code).
  assert.equal(afterSignOut.error.name, 'AuthSessionMissingError');
  assert.equal(afterSignOut.data, null);
});

describe('getClaims (ES256): verified locally with the published key', () => {
  let server;
  let work;
  let url;
  let anonKey;
  let jwksFetches = 0;
  let userFetches = 0;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'bizbase-es256-'));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(work, 'es256.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const serverEnv = {
      PATH: process.env.PATH,
      DATABASE_URL: env('BIZBASE_DB_URL'),
      BIZBASE_ADDR: `127.0.0.1:${port}`,
      BIZBASE_PUBLIC_URL: url,
      BIZBASE_DATA_DIR: work,
      BIZBASE_JWT_SECRET: randomBytes(32).toString('hex'),
      BIZBASE_JWT_ES256_KEY_FILE: join(work, 'es256.pem'),
      BIZBASE_MIGRATE: 'false',
      BIZBASE_LOG: 'warn',
    };
    server = spawn(env('BIZBASE_BIN'), ['serve'], { env: serverEnv, stdio: 'ignore' });
    const keys = JSON.parse(execFileSync(env('BIZBASE_BIN'), ['keys', '--json'], { env: serverEnv }));
    anonKey = keys.anon_key;
    for (let waited = 0; ; waited += 100) {
      const ready = await fetch(`${url}/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      assert.ok(waited < 30_000 && server.exitCode === null, 'the ES256 server did not become ready');
      await sleep(100);
    }
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A client of the ES256 server that counts its requests for the signing keys. */
  function es256Client() {
    const counting = (input, init) => {
      if (String(input).endsWith('/auth/v1/.well-known/jwks.json')) jwksFetches += 1;
      if (String(input).endsWith('/auth/v1/user')) userFetches += 1;
      return fetch(input, init);
    };
    return createClient(url, anonKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      global: { fetch: counting },
      realtime: { transport: WebSocket },
    });
  }

  test('a session token verifies against the JWKS; a forged one does not', T, async () => {
    const user = await createConfirmedUser();
    const sb = es256Client();
    const signIn = await sb.auth.signInWithPassword({ email: user.email, password: user.password });
    assertNoError(signIn.error, 'signInWithPassword on the ES256 server');
    const token = signIn.data.session.access_token;

    const first = await sb.auth.getClaims();
    const second = await sb.auth.getClaims();

    assertNoError(first.error, 'getClaims');
    assert.equal(first.data.header.alg, 'ES256');
    assert.ok(first.data.header.kid, 'the token names its key');
    assert.deepEqual(first.data.claims, jwtClaims(token));
    assert.equal(first.data.claims.sub, user.id);
    assertNoError(second.error, 'getClaims again');
    assert.equal(jwksFetches, 1, 'the key set is fetched once and then cached by supabase-js');
    assert.equal(userFetches, 0, 'no request to the server per check');

    const refused = await sb.auth.getClaims(forged(token, { sub: crypto.randomUUID() }));
    assert.ok(refused.error, 'a token whose payload was changed fails the signature check');
    assert.equal(refused.data, null);
  });
});

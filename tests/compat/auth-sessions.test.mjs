// Refresh-token rotation and reuse (reference §2.10) and sign-out scopes (§2.7 "Logout").
//
// The runner starts the server with BIZBASE_AUTH_REFRESH_REUSE_INTERVAL_SECS=0, so only GoTrue's
// "idempotent replay" rule can make an already-rotated token work again: for a revoked token R,
// the server answers with the active token when the active token's parent is R; anything older is
// `refresh_token_already_used` and the whole session is revoked.
//
// Successful refreshes go through supabase-js; failures are checked with raw requests, because
// supabase-js turns `session_not_found` into a code-less AuthSessionMissingError — the same error it
// returns when it has no session at all — so only the wire shows which error the server sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  assertNoError,
  assertSession,
  authFetch,
  createConfirmedUser,
  jwtClaims,
  refreshWith,
  signedIn,
  sleep,
} from './helpers.mjs';

const T = { timeout: 60_000 };

/** Errors a refresh may fail with once its session is gone (GoTrue deletes the rows → not_found). */
const GONE = ['session_not_found', 'refresh_token_not_found'];

async function refreshOk(refreshToken, what) {
  const { data, error } = await refreshWith(refreshToken);
  assertNoError(error, what);
  assertSession(data.session);
  return data.session;
}

/** A refresh the server must refuse with [400] and one of `codes` (never 5xx: clients retry those). */
async function refreshFails(refreshToken, codes, what) {
  const res = await authFetch('/token?grant_type=refresh_token', { method: 'POST', body: { refresh_token: refreshToken } });
  assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
  assert.ok([codes].flat().includes(res.json?.code), `${what}: expected ${[codes].flat().join(' or ')}, got ${res.text}`);
}

/** GET /user with an access token whose session is gone: [403] session_not_found (§2.7). */
async function sessionGone(accessToken, what) {
  const res = await authFetch('/user', { bearer: accessToken });
  assert.equal(res.status, 403, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.json?.code, 'session_not_found', `${what}: ${res.text}`);
}

async function twoSessions() {
  const user = await createConfirmedUser();
  const a = await signedIn(user.email, user.password);
  const b = await signedIn(user.email, user.password);
  assert.notEqual(jwtClaims(a.session.access_token).session_id, jwtClaims(b.session.access_token).session_id);
  return { user, a, b };
}

test('refreshSession rotates both tokens; replaying the just-rotated token is idempotent', T, async () => {
  const user = await createConfirmedUser();
  const { sb, session: s0 } = await signedIn(user.email, user.password);
  await sleep(1100); // a new second, so a re-minted access token cannot be byte-identical by accident

  const { data, error } = await sb.auth.refreshSession();
  assertNoError(error, 'refreshSession');
  const claims = assertSession(data.session, { userId: user.id });
  assert.notEqual(data.session.refresh_token, s0.refresh_token, 'a new refresh token');
  assert.notEqual(data.session.access_token, s0.access_token, 'a new access token');
  assert.equal(claims.session_id, jwtClaims(s0.access_token).session_id, 'same session');
  assert.ok(claims.iat > jwtClaims(s0.access_token).iat, 'iat moves forward');

  // s0.refresh_token is now the parent of the active token: presenting it again (a second tab,
  // a lost response) still succeeds, with no error and a usable session.
  const replay = await refreshOk(s0.refresh_token, 'refreshing the rotated token again');
  assert.notEqual(replay.refresh_token, s0.refresh_token);
  await refreshOk(replay.refresh_token, 'refreshing the token the replay returned');
});

test('five concurrent refreshes with the same token all succeed', T, async () => {
  const user = await createConfirmedUser();
  const { session } = await signedIn(user.email, user.password);

  const responses = await Promise.all(
    Array.from({ length: 5 }, () =>
      authFetch('/token?grant_type=refresh_token', { method: 'POST', body: { refresh_token: session.refresh_token } }),
    ),
  );
  for (const [i, res] of responses.entries()) {
    assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.text}`);
    assert.ok(res.json.access_token && res.json.expires_in, `request ${i} returned a session`);
    assert.notEqual(res.json.refresh_token, session.refresh_token, `request ${i} returned a new refresh token`);
  }
  await refreshOk(responses[4].json.refresh_token, 'refreshing a token returned by the concurrent burst');
});

test('a refresh token two generations old is refresh_token_already_used and revokes the session', T, async (t) => {
  if (process.env.BIZBASE_AUTH_REFRESH_REUSE_INTERVAL_SECS !== '0') {
    t.skip('needs BIZBASE_AUTH_REFRESH_REUSE_INTERVAL_SECS=0 on the server (tests/compat/run sets it)');
    return;
  }
  const user = await createConfirmedUser();
  const { session: s0 } = await signedIn(user.email, user.password);
  const s1 = await refreshOk(s0.refresh_token, 'R0 → R1');
  const s2 = await refreshOk(s1.refresh_token, 'R1 → R2');

  // R0 is neither active nor the active token's parent, and the reuse interval is 0: reuse detected.
  await refreshFails(s0.refresh_token, 'refresh_token_already_used', 'refreshing R0 after R2 was issued');
  // Reuse detection revokes the whole token family, so even the newest token is dead now.
  await refreshFails(s2.refresh_token, ['refresh_token_already_used', ...GONE], 'refreshing R2 after reuse was detected');
});

test('signOut({scope: "others"}) ends the other sessions and keeps this one', T, async () => {
  const { a, b } = await twoSessions();
  assertNoError((await a.sb.auth.signOut({ scope: 'others' })).error, 'signOut(others)');

  await refreshFails(b.session.refresh_token, GONE, "refreshing B's session after signOut(others) from A");
  await sessionGone(b.session.access_token, "GET /user with B's access token");

  const aUser = await a.sb.auth.getUser();
  assertNoError(aUser.error, "getUser on A's session");
  await refreshOk(a.session.refresh_token, "refreshing A's session");
});

test('signOut({scope: "local"}) ends only this session', T, async () => {
  const { a, b } = await twoSessions();
  assertNoError((await a.sb.auth.signOut({ scope: 'local' })).error, 'signOut(local)');

  await refreshFails(a.session.refresh_token, GONE, "refreshing A's session after signOut(local)");
  await sessionGone(a.session.access_token, "GET /user with A's access token after signOut(local)");
  await refreshOk(b.session.refresh_token, "refreshing B's session (untouched by A's local sign-out)");
});

test('signOut() (global) ends every session of the user', T, async () => {
  const { a, b } = await twoSessions();
  assertNoError((await a.sb.auth.signOut()).error, 'signOut()');

  await refreshFails(a.session.refresh_token, GONE, "refreshing A's session after a global sign-out");
  await refreshFails(b.session.refresh_token, GONE, "refreshing B's session after a global sign-out");
  await sessionGone(a.session.access_token, "GET /user with A's old access token");
});

test('POST /logout: unknown scope is 400 validation_failed, scope=local is 204', T, async () => {
  const user = await createConfirmedUser();
  const { session } = await signedIn(user.email, user.password);

  const bad = await authFetch('/logout?scope=everything', { method: 'POST', bearer: session.access_token });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json?.code, 'validation_failed', bad.text);

  const res = await authFetch('/logout?scope=local', { method: 'POST', bearer: session.access_token });
  assert.equal(res.status, 204, res.text);
  await refreshFails(session.refresh_token, GONE, 'refreshing after POST /logout?scope=local');
});

test('rpc my_sessions lists the signed-in user\'s sessions; rpc revoke_session ends another one', T, async () => {
  const user = await createConfirmedUser();
  const laptop = await signedIn(user.email, user.password);
  const phone = await signedIn(user.email, user.password);

  const listed = await phone.sb.rpc('my_sessions');
  assertNoError(listed.error, 'rpc(my_sessions)');
  assert.deepEqual(
    listed.data.map((s) => s.id),
    [jwtClaims(phone.session.access_token).session_id, jwtClaims(laptop.session.access_token).session_id],
  );
  assert.deepEqual(listed.data.map((s) => s.current), [true, false]);

  const revoked = await phone.sb.rpc('revoke_session', { session_id: listed.data[1].id });
  assertNoError(revoked.error, 'rpc(revoke_session)');
  assert.equal(revoked.data, true);
  const refresh = await refreshWith(laptop.session.refresh_token);
  assert.ok(refresh.error, 'the revoked session no longer refreshes');
  assert.equal((await phone.sb.rpc('my_sessions')).data.length, 1);
});

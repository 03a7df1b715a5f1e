// supabase-js in the PKCE flow (`flowType: 'pkce'`, the default of @supabase/ssr and so of most
// Next.js apps) against bizbase (reference §2.7): the mailed link redirects with `?code=`, and
// exchangeCodeForSession trades the code and the verifier the client kept for a session.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

import {
  anonKey,
  assertAuthError,
  assertNoError,
  assertSession,
  authFetch,
  baseUrl,
  createConfirmedUser,
  latestMail,
  signedIn,
  strongPassword,
  uniqueEmail,
} from './helpers.mjs';

const T = { timeout: 60_000 };

/** A browser-like PKCE client: the verifier lives in its own storage, as in one browser. */
function pkceClient() {
  const store = new Map();
  const sb = createClient(baseUrl(), anonKey(), {
    auth: {
      flowType: 'pkce',
      persistSession: true,
      autoRefreshToken: false,
      detectSessionInUrl: false,
      storage: {
        getItem: (key) => store.get(key) ?? null,
        setItem: (key, value) => void store.set(key, value),
        removeItem: (key) => void store.delete(key),
      },
    },
    realtime: { transport: WebSocket },
  });
  return { sb, store };
}

/** Follows the verify link of the newest `template` mail to `email`; returns the redirect URL. */
async function followMailedLink(email, template) {
  const mail = await latestMail(email, template);
  assert.ok(mail.tokenHash?.startsWith('pkce_'), `a PKCE link carries a pkce_ token:\n${mail.text}`);
  const link = /https?:\/\/\S+\/auth\/v1\/verify\?\S+/.exec(mail.text)?.[0];
  assert.ok(link, `the mail has a verify link:\n${mail.text}`);
  const res = await fetch(link, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const location = new URL(res.headers.get('location'));
  assert.equal(location.hash.includes('access_token'), false, 'a PKCE link signs nobody in');
  assert.ok(location.searchParams.get('code'), `the redirect carries ?code=: ${location}`);
  return location;
}

test('signUp → confirmation link → exchangeCodeForSession signs in the client that signed up', T, async () => {
  const { sb } = pkceClient();
  const email = uniqueEmail('pkce-signup');
  const password = strongPassword();
  const events = [];
  sb.auth.onAuthStateChange((event) => events.push(event));

  const { data, error } = await sb.auth.signUp({ email, password });
  assertNoError(error, 'signUp (pkce)');
  assert.equal(data.session, null);

  const code = (await followMailedLink(email, 'confirmation')).searchParams.get('code');
  const exchanged = await sb.auth.exchangeCodeForSession(code);
  assertNoError(exchanged.error, 'exchangeCodeForSession');
  assertSession(exchanged.data.session, { email, userId: data.user.id });
  assert.ok(exchanged.data.user.email_confirmed_at, 'the link confirmed the address');
  assert.ok(events.includes('SIGNED_IN'), `events: ${events}`);
  const { data: current } = await sb.auth.getSession();
  assert.equal(current.session?.user.email, email, 'the session is stored in the client');

  // The code is spent; another device, holding no verifier, gets nothing either.
  const replay = await authFetch('/token?grant_type=pkce', {
    method: 'POST',
    body: { auth_code: code, code_verifier: 'x'.repeat(43) },
  });
  assert.equal(replay.status, 404);
  assert.equal(replay.json.code, 'flow_state_not_found');
});

test('resetPasswordForEmail → link → exchangeCodeForSession is a recovery that may set a new password', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = pkceClient();
  const events = [];
  sb.auth.onAuthStateChange((event) => events.push(event));

  assertNoError((await sb.auth.resetPasswordForEmail(user.email)).error, 'resetPasswordForEmail (pkce)');
  const code = (await followMailedLink(user.email, 'recovery')).searchParams.get('code');
  const exchanged = await sb.auth.exchangeCodeForSession(code);
  assertNoError(exchanged.error, 'exchangeCodeForSession (recovery)');
  assert.equal(exchanged.data.redirectType, 'recovery');
  assert.ok(events.includes('PASSWORD_RECOVERY'), `events: ${events}`);

  const newPassword = strongPassword();
  assertNoError((await sb.auth.updateUser({ password: newPassword })).error, 'updateUser(password)');
  await signedIn(user.email, newPassword);
});

test('signInWithOtp (magic link) → link → exchangeCodeForSession', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = pkceClient();

  const sent = await sb.auth.signInWithOtp({ email: user.email, options: { shouldCreateUser: false } });
  assertNoError(sent.error, 'signInWithOtp (pkce)');
  const code = (await followMailedLink(user.email, 'magiclink')).searchParams.get('code');
  const exchanged = await sb.auth.exchangeCodeForSession(code);
  assertNoError(exchanged.error, 'exchangeCodeForSession (magic link)');
  assertSession(exchanged.data.session, { email: user.email, userId: user.id });
});

test('a code exchanged with another verifier is refused with bad_code_verifier', T, async () => {
  const user = await createConfirmedUser();
  const { sb, store } = pkceClient();
  assertNoError((await sb.auth.signInWithOtp({ email: user.email })).error, 'signInWithOtp (pkce)');
  const code = (await followMailedLink(user.email, 'magiclink')).searchParams.get('code');
  for (const key of store.keys()) {
    if (key.endsWith('-code-verifier')) store.set(key, JSON.stringify('not-the-verifier-this-flow-began-with-0123456789'));
  }

  const { data, error } = await sb.auth.exchangeCodeForSession(code);
  assertAuthError(error, { code: 'bad_code_verifier', status: 400 }, 'exchange with a wrong verifier');
  assert.equal(data.session, null);
});

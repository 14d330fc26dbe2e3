// A relying party from another ecosystem: panva's openid-client (Node) signs a
// fresh user in at Guichet and uses the tokens it gets. openid-client does every
// protocol step it offers (discovery, the authorization URL, PKCE, the callback
// checks, the token exchange, ID token validation, userinfo, introspection,
// revocation, client credentials); only the browser is played here by hand.
//
// Run by scripts/rp-node-test.sh, which starts Guichet, registers the client and
// sets GUICHET_ISSUER, CLIENT_ID, CLIENT_SECRET and REDIRECT_URI.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import * as client from 'openid-client'

function env(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} must be set (see scripts/rp-node-test.sh)`)
  return value
}

const ISSUER = new URL(env('GUICHET_ISSUER'))
const CLIENT_ID = env('CLIENT_ID')
const CLIENT_SECRET = env('CLIENT_SECRET')
const REDIRECT_URI = env('REDIRECT_URI')

/** Discovery, with the client authenticating the way it was registered. */
async function configuration() {
  return client.discovery(
    ISSUER,
    CLIENT_ID,
    CLIENT_SECRET,
    // `client create` registers client_secret_basic (its default auth method).
    client.ClientSecretBasic(CLIENT_SECRET),
    {
      // The test talks to Guichet over plain http on 127.0.0.1: there is no TLS
      // certificate for a throwaway loopback server. openid-client v6 refuses any
      // non-https request unless this is set; it must never be used in production.
      execute: [client.allowInsecureRequests],
    },
  )
}

/** A minimal cookie jar for one browser: name → value, for a single host. */
class CookieJar {
  #cookies = new Map()

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attributes.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a))
      if (expired || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  has(name) {
    return this.#cookies.has(name)
  }
}

/** A browser: fetch with a cookie jar and no automatic redirects. */
function browser() {
  const jar = new CookieJar()
  return {
    jar,
    async request(url, init = {}) {
      const headers = new Headers(init.headers)
      const cookies = jar.header()
      if (cookies) headers.set('cookie', cookies)
      const response = await fetch(url, { ...init, headers, redirect: 'manual' })
      jar.store(response)
      return response
    },
  }
}

function decodeEntities(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

/** The value of each hidden input of an HTML page, by name (attribute order free). */
function hiddenInputs(html) {
  const fields = {}
  for (const [tag] of html.matchAll(/<input\b[^>]*>/gi)) {
    const attr = (n) => tag.match(new RegExp(`\\b${n}="([^"]*)"`, 'i'))?.[1]
    if (attr('type')?.toLowerCase() === 'hidden' && attr('name') !== undefined) {
      fields[decodeEntities(attr('name'))] = decodeEntities(attr('value') ?? '')
    }
  }
  return fields
}

/**
 * Signs a fresh person up through Guichet's JSON API; returns them. The handle
 * reaches only their mailbox, so they log in with their primary email.
 */
async function signUp() {
  const tag = randomUUID().slice(0, 8)
  const person = {
    first_name: 'Noemie',
    last_name: 'Node',
    primary_email: `noemie.node.${tag}@example.com`,
    password: 'violet staircase under rain',
    password_confirm: 'violet staircase under rain',
    country: 'FR',
    language: 'en',
    kind: 'individual',
  }
  const response = await fetch(new URL('/api/v1/signup', ISSUER), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(person),
  })
  const body = await response.text()
  assert.equal(response.status, 202, `sign-up failed: ${body}`)
  assert.equal(JSON.parse(body).status, 'accepted', body)
  return person
}

/**
 * Plays the browser from the authorization URL to the client's callback: Guichet
 * sends it to the login page, the person logs in, and Guichet's redirects lead
 * back to REDIRECT_URI. Returns the callback URL, as the relying party receives it.
 */
async function signInThroughBrowser(authorizationUrl, person) {
  const web = browser()

  let response = await web.request(authorizationUrl)
  assert.equal(response.status, 303, 'no session yet: Guichet redirects to its login page')
  const loginUrl = new URL(response.headers.get('location'), authorizationUrl)
  assert.equal(loginUrl.pathname, '/login')

  response = await web.request(loginUrl)
  assert.equal(response.status, 200)
  const page = await response.text()
  assert.ok(web.jar.has('guichet_csrf'), 'the login page sets the anti-CSRF cookie')
  const { csrf, next } = hiddenInputs(page)
  assert.ok(csrf, 'the login form has a csrf token')
  assert.ok(next, 'the login form carries where to go next')
  const action = page.match(/<form\b[^>]*\baction="([^"]*)"/i)?.[1] ?? loginUrl.pathname
  const formUrl = new URL(decodeEntities(action), loginUrl)

  response = await web.request(formUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      identifier: person.primary_email,
      password: person.password,
      csrf,
      next,
    }),
  })
  assert.equal(response.status, 303, `login refused: ${await response.text()}`)

  // Follow Guichet's own redirects (/oauth2/authorize/resume…) until one leaves
  // for the client.
  let location = new URL(response.headers.get('location'), formUrl)
  for (let hops = 0; hops < 10; hops++) {
    if (location.href.startsWith(REDIRECT_URI)) return location
    assert.equal(location.origin, ISSUER.origin, `redirect outside Guichet: ${location}`)
    response = await web.request(location)
    assert.equal(response.status, 303, `at ${location}: ${await response.text()}`)
    location = new URL(response.headers.get('location'), location)
  }
  assert.fail('too many redirects inside Guichet')
}

/** Everything one authorization request needs, made by openid-client. */
async function authorizationRequest(config) {
  const codeVerifier = client.randomPKCECodeVerifier()
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  return { url, codeVerifier, state, nonce }
}

test('openid-client signs a new user in with the authorization code flow and uses the tokens', async (t) => {
  const config = await configuration()
  const metadata = config.serverMetadata()
  assert.equal(new URL(metadata.issuer).href, ISSUER.href)
  assert.ok(metadata.supportsPKCE(), 'discovery advertises PKCE S256')
  assert.equal(metadata.authorization_response_iss_parameter_supported, true)

  const person = await signUp()
  const request = await authorizationRequest(config)
  assert.equal(request.url.origin, ISSUER.origin)
  assert.equal(request.url.pathname, '/oauth2/authorize')

  const callback = await signInThroughBrowser(request.url, person)
  assert.ok(callback.searchParams.get('code'), 'the callback carries a code')
  assert.equal(callback.searchParams.get('iss'), metadata.issuer, 'RFC 9207 iss in the callback')

  // openid-client checks state and iss, redeems the code with the PKCE verifier,
  // then validates the ID token (signature from the JWKS, iss, aud, exp, nonce).
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  })
  assert.ok(tokens.access_token, 'an access token')
  assert.equal(tokens.token_type.toLowerCase(), 'bearer')
  assert.ok(tokens.expiresIn() > 0, 'the access token has a lifetime')

  const claims = tokens.claims()
  assert.ok(claims, 'an ID token')
  assert.ok(claims.sub, 'the ID token names its subject')
  assert.equal(claims.iss, metadata.issuer)
  assert.ok(
    claims.aud === CLIENT_ID || (Array.isArray(claims.aud) && claims.aud.includes(CLIENT_ID)),
    `aud ${JSON.stringify(claims.aud)} is the client`,
  )
  assert.equal(claims.nonce, request.nonce)
  assert.equal(claims.email, person.primary_email)
  assert.ok(Array.isArray(claims.amr) && claims.amr.includes('pwd'), `amr ${JSON.stringify(claims.amr)} has pwd`)

  await t.test('userinfo answers for the same subject', async () => {
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
    assert.equal(userinfo.sub, claims.sub)
    assert.equal(userinfo.email, person.primary_email)
  })

  await t.test('the access token is active, then revoked, then inactive', async () => {
    const before = await client.tokenIntrospection(config, tokens.access_token)
    assert.equal(before.active, true)
    assert.equal(before.client_id, CLIENT_ID)
    assert.equal(before.sub, claims.sub)

    await client.tokenRevocation(config, tokens.access_token)

    const after = await client.tokenIntrospection(config, tokens.access_token)
    assert.equal(after.active, false)
  })
})

test('openid-client gets a token for the client itself (client credentials)', async () => {
  const config = await configuration()
  // oauth4webapi checks the response strictly: a member with a null value
  // (such as "id_token": null) would make it refuse the whole response.
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api' })
  assert.ok(tokens.access_token, 'an access token')
  assert.equal(tokens.token_type.toLowerCase(), 'bearer')
  assert.ok(!tokens.id_token, 'no ID token without a user')

  const introspection = await client.tokenIntrospection(config, tokens.access_token)
  assert.equal(introspection.active, true)
  assert.equal(introspection.client_id, CLIENT_ID)
  assert.ok(String(introspection.scope ?? '').split(' ').includes('api'), `scope ${introspection.scope}`)
})

test('openid-client refuses a callback whose state or iss was tampered with', async () => {
  const config = await configuration()
  const person = await signUp()
  const request = await authorizationRequest(config)
  const callback = await signInThroughBrowser(request.url, person)
  const checks = {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  }

  const tamperedState = new URL(callback)
  tamperedState.searchParams.set('state', client.randomState())
  await assert.rejects(client.authorizationCodeGrant(config, tamperedState, checks), (err) => {
    assert.ok(err instanceof client.ClientError, String(err))
    assert.equal(err.code, 'OAUTH_INVALID_RESPONSE')
    assert.match(err.cause?.message ?? '', /unexpected "state" response parameter value/)
    return true
  })

  const tamperedIss = new URL(callback)
  tamperedIss.searchParams.set('iss', 'http://attacker.invalid')
  await assert.rejects(client.authorizationCodeGrant(config, tamperedIss, checks), (err) => {
    assert.ok(err instanceof client.ClientError, String(err))
    assert.equal(err.code, 'OAUTH_INVALID_RESPONSE')
    assert.match(err.cause?.message ?? '', /unexpected "iss" \(issuer\) response parameter value/)
    return true
  })

  // Both were refused before the code was spent: the genuine callback still works.
  const tokens = await client.authorizationCodeGrant(config, callback, checks)
  assert.ok(tokens.access_token)
})

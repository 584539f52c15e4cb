/**
 * HS256 JSON Web Tokens as Auth0's api.redirect.encodeToken / validateToken handle them
 * (customize/actions/redirect-with-actions.mdx): signature, algorithm pinned to HS256, `exp` required.
 */
'use strict';

const crypto = require('node:crypto');

/** Raised for any token the sandbox's validateToken refuses, like Auth0's runtime throws. */
class TokenError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TokenError';
  }
}

function encodePart(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodePart(part) {
  let value;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (err) {
    throw new TokenError('the token is not a well-formed JWT');
  }
  if (!value || typeof value !== 'object') throw new TokenError('the token is not a well-formed JWT');
  return value;
}

function hmac(input, secret) {
  return crypto.createHmac('sha256', secret).update(input).digest();
}

/** Signs `claims` as a compact HS256 JWT. */
function signHs256(claims, secret) {
  if (!secret) throw new TypeError('a secret is required to sign a token');
  const input = `${encodePart({ alg: 'HS256', typ: 'JWT' })}.${encodePart(claims)}`;
  return `${input}.${hmac(input, secret).toString('base64url')}`;
}

/** Verifies signature, algorithm and expiry; returns the claims or throws TokenError. */
function verifyHs256(token, secret, nowS = Date.now() / 1000) {
  if (!secret) throw new TokenError('no secret was given to validate the token');
  if (typeof token !== 'string' || !token) throw new TokenError('the token is missing');
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('the token is not a well-formed JWT');
  const header = decodePart(parts[0]);
  if (header.alg !== 'HS256') throw new TokenError(`algorithm ${header.alg} is not accepted`);
  const expected = hmac(`${parts[0]}.${parts[1]}`, secret);
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new TokenError('the token signature does not match');
  }
  const claims = decodePart(parts[1]);
  if (typeof claims.exp !== 'number') throw new TokenError('the token has no exp claim');
  if (nowS >= claims.exp) throw new TokenError('the token has expired');
  return claims;
}

/** The claims of a token without checking anything (for test assertions only). */
function decodeUnverified(token) {
  return decodePart(String(token).split('.')[1] || '');
}

module.exports = { TokenError, signHs256, verifyHs256, decodeUnverified };

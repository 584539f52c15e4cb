/**
 * A minimal browser for the redirect leg of a login: follows 3xx, honours `<meta http-equiv="refresh">`
 * waiting pages and runs a page's same-origin script (with just the DOM our waiting page's script uses)
 * where it plans an earlier reload, keeps cookies, clicks a link back to /continue on a page that explains a failure, and
 * stops at https://{tenant domain}/continue where Auth0 would take over.
 */
'use strict';

const vm = require('node:vm');

const MAX_HOPS = 500;
const FAST_REFRESH_MS = 200;
const USER_AGENT = 'Mozilla/5.0 (entra-companion sandbox)';

const ENTITIES = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, code) => {
    if (code[0] === '#') {
      const point = code[1].toLowerCase() === 'x' ? parseInt(code.slice(2), 16) : parseInt(code.slice(1), 10);
      return Number.isFinite(point) ? String.fromCodePoint(point) : whole;
    }
    return ENTITIES[code.toLowerCase()] || whole;
  });
}

/** Finds `<meta http-equiv="refresh" content="N;url=...">`; returns {seconds, url|null} or null. */
function parseMetaRefresh(html) {
  for (const tag of String(html).match(/<meta\b[^>]*>/gi) || []) {
    if (!/http-equiv\s*=\s*["']?refresh["'\s/>]/i.test(tag)) continue;
    const attr = tag.match(/content\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i);
    if (!attr) continue;
    const content = decodeEntities(attr[1] ?? attr[2] ?? attr[3]);
    const parts = content.match(/^\s*(\d+(?:\.\d+)?)\s*(?:[;,]\s*(?:url\s*=\s*)?(.*))?$/i);
    if (!parts) continue;
    const url = (parts[2] || '').trim().replace(/^(['"])(.*)\1$/, '$2');
    return { seconds: Number(parts[1]), url: url || null };
  }
  return null;
}

/** Cookies per origin: name=value only, enough for a companion that keeps a browser session. */
function createCookieJar() {
  const byOrigin = new Map();
  return {
    header(url) {
      const jar = byOrigin.get(new URL(url).origin);
      return jar && jar.size ? [...jar].map(([name, value]) => `${name}=${value}`).join('; ') : null;
    },
    store(url, headers) {
      const lines = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [headers.get('set-cookie')].filter(Boolean);
      const origin = new URL(url).origin;
      const jar = byOrigin.get(origin) || new Map();
      for (const line of lines) {
        const [pair, ...attributes] = line.split(';');
        const eq = pair.indexOf('=');
        if (eq <= 0) continue;
        const name = pair.slice(0, eq).trim();
        const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
        if (expired) jar.delete(name);
        else jar.set(name, pair.slice(eq + 1).trim());
      }
      byOrigin.set(origin, jar);
    },
  };
}

/** The attributes of the element with this id in the page, or null (enough DOM for our scripts). */
function elementById(html, id) {
  for (const tag of String(html).match(/<[a-z][^>]*>/gi) || []) {
    const attributes = new Map();
    for (const m of tag.matchAll(/([a-z][\w-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
      attributes.set(m[1].toLowerCase(), decodeEntities(m[2] ?? m[3]));
    }
    if (attributes.get('id') === id) {
      return { getAttribute: (name) => (attributes.has(name) ? attributes.get(name) : null) };
    }
  }
  return null;
}

/**
 * Runs a page script in a bare context (document.getElementById, setTimeout, location.replace) and
 * returns the reload it plans, {seconds, url}, or null when it plans none.
 */
function plannedReload(code, html) {
  let timer = null;
  let target = null;
  const location = { replace: (url) => { target = String(url); } };
  const context = {
    document: { getElementById: (id) => elementById(html, id) },
    setTimeout: (fn, ms) => { timer = { fn, ms: Number(ms) || 0 }; },
    window: { location },
    location,
  };
  try {
    vm.runInNewContext(String(code), context, { timeout: 100 });
    if (!timer) return null;
    timer.fn();
  } catch (err) {
    return null;  // a script that fails plans nothing; the meta refresh still applies, as in a browser
  }
  return target === null ? null : { seconds: timer.ms / 1000, url: target };
}

/** The reload the page's own scripts (same origin, fetched once per browser) plan, or null. */
async function scriptedReload(page, pageUrl, jar, opts, deadline, scripts) {
  for (const match of String(page.body).matchAll(/<script\b[^>]*\bsrc\s*=\s*"([^"]*)"/gi)) {
    const src = new URL(decodeEntities(match[1]), pageUrl);
    if (src.origin !== new URL(pageUrl).origin) continue;
    if (!scripts.has(src.href)) {
      const res = await get(src.href, jar, opts, deadline);
      scripts.set(src.href, res.status === 200 ? res.body : '');
    }
    const planned = plannedReload(scripts.get(src.href), page.body);
    if (planned) return planned;
  }
  return null;
}

/** A link on the page back to Auth0's /continue, as a person would click on a failure page. */
function findContinueLink(html, pageUrl, domain) {
  for (const match of String(html).matchAll(/<a\b[^>]*\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    try {
      const url = new URL(decodeEntities(match[1] ?? match[2]), pageUrl);
      if (isContinue(url, domain)) return url;
    } catch (err) {
      // not a URL: not a way back to Auth0
    }
  }
  return null;
}

function isContinue(url, domain) {
  return url.protocol === 'https:' && url.host === domain && url.pathname === '/continue';
}

function failed(error) {
  return { kind: 'failed', error };
}

/** One GET, counted, with redirect: "manual" and a timeout at the overall deadline. */
async function get(url, jar, opts, deadline) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(1, deadline - Date.now()));
  const headers = { 'user-agent': USER_AGENT, accept: 'text/html,application/xhtml+xml' };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  opts.counters.companion_requests += 1;
  try {
    const res = await opts.fetch(url, { method: 'GET', redirect: 'manual', headers, signal: controller.signal });
    jar.store(url, res.headers);
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  } catch (err) {
    return failed(controller.signal.aborted ? `no answer from ${url} before the wait limit` : `GET ${url} failed: ${err.message}`);
  } finally {
    clearTimeout(timer);
  }
}

function pathOf(url) {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** Waits as the page asks, capped by --fast-refresh and by the overall deadline. */
function refreshDelayMs(seconds, opts, deadline) {
  const asked = seconds * 1000;
  const capped = opts.fastRefresh ? Math.min(asked, FAST_REFRESH_MS) : asked;
  return Math.max(0, Math.min(capped, deadline - Date.now()));
}

/**
 * Plays the browser from `startUrl`. opts: {domain, maxWaitMs, fastRefresh, fetch, counters, step}.
 * Returns {kind: "continue", query} or {kind: "failed", error}.
 */
async function playBrowser(startUrl, opts) {
  const jar = createCookieJar();
  const scripts = new Map();  // a browser's cache: each script is fetched once
  const deadline = Date.now() + opts.maxWaitMs;
  let url = startUrl;
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    if (Date.now() >= deadline) return failed(`the companion did not send the browser to /continue within ${opts.maxWaitMs / 1000} s`);
    const page = await get(url, jar, opts, deadline);
    if (page.kind === 'failed') return page;
    if (page.status >= 300 && page.status < 400 && page.location) {
      const next = new URL(page.location, url);
      if (isContinue(next, opts.domain)) return { kind: 'continue', query: Object.fromEntries(next.searchParams) };
      url = next.href;
      continue;
    }
    const meta = page.status === 200 ? parseMetaRefresh(page.body) : null;
    const scripted = meta ? await scriptedReload(page, url, jar, opts, deadline, scripts) : null;
    const refresh = scripted && scripted.seconds <= meta.seconds ? scripted : meta;
    const link = refresh ? null : findContinueLink(page.body, url, opts.domain);
    if (link) {
      opts.step('continue_link');
      return { kind: 'continue', query: Object.fromEntries(link.searchParams) };
    }
    if (!refresh) {
      return failed(`the companion answered HTTP ${page.status} at ${pathOf(url)} without a redirect or a refresh: ${page.body.replace(/\s+/g, ' ').slice(0, 200)}`);
    }
    opts.counters.waiting_pages += 1;
    opts.step('waiting_page');
    const next = new URL(refresh.url || url, url);
    await new Promise((resolve) => setTimeout(resolve, refreshDelayMs(refresh.seconds, opts, deadline)));
    if (isContinue(next, opts.domain)) return { kind: 'continue', query: Object.fromEntries(next.searchParams) };
    url = next.href;
  }
  return failed(`more than ${MAX_HOPS} pages without reaching /continue`);
}

module.exports = { playBrowser, parseMetaRefresh, plannedReload, findContinueLink, createCookieJar };

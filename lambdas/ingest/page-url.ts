/**
 * URL rules of SPEC §1/§2: `url` must be an absolute http(s) URL; `page_url` is its normalized
 * form used for grouping (lower-case scheme and host, path kept, trailing `/` dropped except for
 * the root, query and fragment dropped).
 *
 * Parsing is the WHATWG URL standard (Node's `URL`), the same algorithm browsers use to produce
 * `location.href`, so URLs that come from a web page are already in the form it outputs.
 * Consequences (docs/ingest.md): dot segments (`/a/../b`) are resolved, the default port is
 * dropped, an internationalized host is written in punycode, user info (`user:pass@`) never
 * reaches `page_url`.
 */

/** Scheme and exactly two slashes: WHATWG would also repair `https:///host` or `https:\\host`,
 *  but those are not what a page reports as its URL, so they are not absolute http(s) URLs here. */
const ABSOLUTE_HTTP_URL = /^https?:\/\/(?![/\\])/i;

/**
 * Returns the normalized page URL, or `undefined` when `raw` is not an absolute http(s) URL with
 * a host. Surrounding whitespace is ignored for parsing (the stored `url` keeps it as received).
 */
export function normalizePageUrl(raw: string): string | undefined {
  const text = raw.trim();
  if (!ABSOLUTE_HTTP_URL.test(text)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return undefined;
  }
  if (parsed.hostname === '') return undefined;
  let path = parsed.pathname;
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f /* '/' */) end--;
  path = end === 0 ? '/' : path.slice(0, end);
  // `protocol` and `host` are already lower-case (WHATWG); `host` keeps a non-default port.
  return `${parsed.protocol}//${parsed.host}${path}`;
}

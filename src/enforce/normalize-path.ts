/**
 * The path a disable decision's routes are matched against, read the way lenient apps read it,
 * so that no spelling of a path the app would route to the same handler walks past a decision
 * written for it:
 *
 * - percent-escapes of unreserved characters decoded (RFC 3986 section 6.2.2.2), so `%75pload`
 *   is `upload`; `%2E` is a dot like any other; escapes of reserved characters such as `%2F` stay
 *   encoded, since an encoded slash is not a separator;
 * - dot segments removed (section 5.2.4): `/upload/./x`, `/a/../upload/x`;
 * - `;parameters` of a segment dropped (`/upload;jsessionid=1/x`, as servlet containers do);
 * - empty segments collapsed (`//upload`) and one trailing slash dropped (`/upload/`);
 * - letters folded to lower case (routes are compiled in lower case too), as Express and
 *   others route case-insensitively.
 *
 * Matching more spellings than a strict app routes can only disable a little more, never less.
 * The common path, already in this form, costs one scan and no allocation.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function normalizePath(path: string): string {
  return isNormal(path) ? path : rewrite(path);
}

/** True when `path` has nothing to rewrite: no `%`, `;`, upper case, dot segment, `//` or trailing `/`. */
function isNormal(path: string): boolean {
  const n = path.length;
  if (n > 1 && path.charCodeAt(n - 1) === 47 /* / */) return false;
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */ || c === 59 /* ; */ || (c >= 65 && c <= 90)) return false;
    if (c === 47 && i + 1 < n) {
      const next = path.charCodeAt(i + 1);
      if (next === 47 || next === 46 /* . */) return false;
    }
  }
  return true;
}

function rewrite(path: string): string {
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : encoded.toUpperCase();
  });
  const out: string[] = [];
  for (const raw of decoded.split("/")) {
    const semicolon = raw.indexOf(";");
    const s = (semicolon === -1 ? raw : raw.slice(0, semicolon)).toLowerCase();
    if (s === "" || s === ".") continue;
    if (s === "..") out.pop();
    else out.push(s);
  }
  return `/${out.join("/")}`;
}

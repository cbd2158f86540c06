/**
 * The path a disable decision's routes are matched against, read the way the app will read it:
 * percent-escapes of unreserved characters decoded (RFC 3986 section 6.2.2.2) and dot segments
 * removed (section 5.2.4). Otherwise `/upload/./x` or `/%75pload/x` would walk past a decision
 * written for `POST /upload/*`. `%2E` is a dot like any other (so `/%2e%2e/` is removed too);
 * escapes of reserved characters such as `%2F` stay encoded, since an encoded slash is not a
 * separator. The common path, with neither `%` nor a dot segment, costs two scans and no
 * allocation.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function normalizePath(path: string): string {
  if (!path.includes("%") && !path.includes("/.")) return path;
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : encoded.toUpperCase();
  });
  const out: string[] = [];
  const segments = decoded.split("/");
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === ".") {
      if (i === segments.length - 1) out.push("");
    } else if (s === "..") {
      out.pop();
      if (i === segments.length - 1) out.push("");
    } else {
      out.push(s);
    }
  }
  return `/${out.join("/")}`;
}

/**
 * The demo app that `gatehouse demo` puts behind Gatehouse: a small shop, instrumented the way a
 * real app would be (docs/events.md). It reports what its own checks see in `Gatehouse-Event`
 * response headers, with `gatehouse/client`, and names the signed-in user in `Gatehouse-User`:
 *
 *   POST /login        a wrong password: 401 and AE2 (Multiple Failed Passwords, counted by policy)
 *                      the honeytoken account `backup_admin`, whose "forgotten" credentials sit in an
 *                      HTML comment on /login: it signs in like any account, and the app reports
 *                      HT3;outcome=success (Honey Trap Data Used, and it worked: a breach)
 *   POST /comments     validation refuses markup: 400 and IE1, the input shown HTML-encoded
 *   GET /orders/ID     an order that is not yours: 404 and ACE3 (Force Browsing Attempt)
 *   GET /admin         403 and ACE3
 *   GET /account       who the session belongs to: the page that shows a session works
 *
 * Everything is in memory and bounded (sessions, comments, request bodies), so the app can face the
 * same hostile input Gatehouse does without growing or crashing. `--app-only` serves it alone, for
 * the Helm chart's example Deployment, where Gatehouse runs in its own container.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { addEventHeader, type HeaderEvent } from "../client/index.ts";
import { readBody } from "../events/read-body.ts";

/** The demo's accounts. `backup_admin` is the honeytoken: no real person ever signs in with it. */
export const DEMO_USER = { name: "alice", password: "wonderland" } as const;
export const HONEYTOKEN_USER = { name: "backup_admin", password: "letmein-2019" } as const;
/** The session cookie: `sid` is first in Gatehouse's default `identity.sessionCookies`. */
export const SESSION_COOKIE = "sid";
/** Orders 1..ORDER_COUNT exist; alice owns ALICE_ORDER, every other one is someone else's. */
const ORDER_COUNT = 50;
export const ALICE_ORDER = 7;

/** Form bodies larger than this are refused (413): the demo's forms are a few dozen bytes. */
const MAX_FORM_BYTES = 16 * 1024;
/** Sessions kept at most; past it the oldest is forgotten (its owner signs in again). */
const MAX_SESSIONS = 10_000;
/** Comments kept, newest first; each at most COMMENT_MAX characters. */
const MAX_COMMENTS = 20;
const COMMENT_MAX = 500;

const ITEMS = [
  { id: 1, name: "Lantern", price: 24.5 },
  { id: 2, name: "Rope, 20 m", price: 18 },
  { id: 3, name: "Padlock", price: 9.99 },
];

const STYLE =
  "body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}code{background:#eee;padding:0 .3em}";

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} - Gatehouse demo shop</title>
<style>${STYLE}</style>
</head><body>
<h1>${title}</h1>
${body}
</body></html>
`;
}

/**
 * Every character that could start markup or end an attribute is encoded, so nothing a visitor
 * typed runs in the page, and Gatehouse's response inspection (docs/response-evidence.md) rightly
 * finds no reflected payload here.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const LOGIN_FORM = `<form method="post" action="/login">
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button>Sign in</button>
</form>
<p>Demo account: <code>${DEMO_USER.name}</code> / <code>${DEMO_USER.password}</code>.</p>
<!-- TODO before launch: delete the backup login ${HONEYTOKEN_USER.name} / ${HONEYTOKEN_USER.password} -->`;

interface DemoState {
  /** Session id → user name, oldest first. */
  sessions: Map<string, string>;
  comments: { user: string; text: string }[];
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { ...headers, "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const html = (res: ServerResponse, status: number, title: string, body: string) =>
  send(res, status, "text/html; charset=utf-8", page(title, body));

function report(res: ServerResponse, ...events: HeaderEvent[]): void {
  addEventHeader(res, ...events);
}

function sessionOf(req: IncomingMessage, state: DemoState): { id: string; user: string } | null {
  const cookie = req.headers.cookie;
  if (typeof cookie !== "string" || cookie.length > 8192) return null;
  for (const part of cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const id = part.slice(eq + 1).trim();
    const user = /^[0-9a-f]{32}$/.test(id) ? state.sessions.get(id) : undefined;
    return user === undefined ? null : { id, user };
  }
  return null;
}

function startSession(res: ServerResponse, state: DemoState, user: string): void {
  const id = randomBytes(16).toString("hex");
  if (state.sessions.size >= MAX_SESSIONS) {
    const oldest = state.sessions.keys().next();
    if (!oldest.done) state.sessions.delete(oldest.value);
  }
  state.sessions.set(id, user);
  res.setHeader("set-cookie", `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`);
}

/**
 * A urlencoded form body, at most MAX_FORM_BYTES, read as the event socket reads its bodies
 * (read-body.ts); null when it is larger or cut off (the caller answers 413 and the connection is
 * closed rather than read to its end). URLSearchParams never throws: a malformed escape is kept
 * as written, which the handlers below treat as any other wrong value.
 */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const read = await readBody(req, {
    maxBytes: MAX_FORM_BYTES,
    drainBytes: MAX_FORM_BYTES,
    tooLarge: "request body too large",
  });
  return read.ok ? new URLSearchParams(read.body) : null;
}

async function login(req: IncomingMessage, res: ServerResponse, state: DemoState): Promise<void> {
  const form = await readForm(req);
  if (form === null) return tooLarge(res);
  const username = form.get("username") ?? "";
  const password = form.get("password") ?? "";
  if (username === "" || password === "")
    return html(res, 400, "Sign in", `<p>User and password, please.</p>${LOGIN_FORM}`);
  if (username === HONEYTOKEN_USER.name) {
    // A decoy account looks like any other; what the attacker does not see is the page.
    if (password !== HONEYTOKEN_USER.password) {
      report(res, { detectionPoint: "AE2" }, { detectionPoint: "HT3", detail: "honeytoken account tried" });
      return html(res, 401, "Sign in", `<p>Wrong user or password.</p>${LOGIN_FORM}`);
    }
    report(res, {
      detectionPoint: "HT3",
      outcome: "success",
      detail: `honeytoken account ${HONEYTOKEN_USER.name} signed in`,
    });
  } else if (username !== DEMO_USER.name || password !== DEMO_USER.password) {
    // The user name is not attached: a wrong password does not prove who is typing.
    report(res, { detectionPoint: "AE2", detail: "wrong user or password" });
    return html(res, 401, "Sign in", `<p>Wrong user or password.</p>${LOGIN_FORM}`);
  }
  startSession(res, state, username);
  res.setHeader("gatehouse-user", username);
  html(
    res,
    200,
    "Signed in",
    `<p>Signed in as ${escapeHtml(username)}. <a href="/account">Your account</a></p>`,
  );
}

function account(res: ServerResponse, state: DemoState, user: string | null): void {
  if (user === null)
    return html(res, 401, "Not signed in", `<p>Not signed in. <a href="/login">Sign in</a></p>`);
  const mine =
    user === DEMO_USER.name ? `<p>Your order: <a href="/orders/${ALICE_ORDER}">#${ALICE_ORDER}</a></p>` : "";
  const comments = state.comments
    .map((c) => `<li><b>${escapeHtml(c.user)}</b>: ${escapeHtml(c.text)}</li>`)
    .join("\n");
  html(
    res,
    200,
    "Your account",
    `<p>Signed in as ${escapeHtml(user)}.</p>${mine}
<form method="post" action="/comments"><label>Comment <input name="text"></label> <button>Post</button></form>
<ul>${comments}</ul>`,
  );
}

async function comment(
  req: IncomingMessage,
  res: ServerResponse,
  state: DemoState,
  user: string | null,
): Promise<void> {
  const form = await readForm(req);
  if (form === null) return tooLarge(res);
  if (user === null) return html(res, 401, "Not signed in", `<p>Sign in to comment.</p>`);
  const text = (form.get("text") ?? "").slice(0, COMMENT_MAX);
  // The app's own validation is the detector that knows the field: plain text only.
  if (/[<>]/.test(text)) {
    report(res, { detectionPoint: "IE1", detail: "markup in a comment" });
    return html(
      res,
      400,
      "Comment refused",
      `<p>Comments are plain text. Not posted: <code>${escapeHtml(text)}</code></p>`,
    );
  }
  state.comments.unshift({ user, text });
  state.comments.length = Math.min(state.comments.length, MAX_COMMENTS);
  html(res, 200, "Comment posted", `<p>Thanks, ${escapeHtml(user)}. <a href="/account">Back</a></p>`);
}

function order(res: ServerResponse, id: string, user: string | null): void {
  const n = /^\d{1,6}$/.test(id) ? Number(id) : 0;
  if (n === ALICE_ORDER && user === DEMO_USER.name) {
    return send(res, 200, "application/json", JSON.stringify({ id: n, owner: user, items: [ITEMS[0]] }));
  }
  // Someone else's order, or none at all: the same 404, so ids cannot be probed for existence.
  const detail = n >= 1 && n <= ORDER_COUNT ? "an order of another customer" : "no such order";
  report(res, { detectionPoint: "ACE3", detail });
  send(res, 404, "application/json", JSON.stringify({ error: "no such order" }));
}

function tooLarge(res: ServerResponse): void {
  send(res, 413, "text/plain; charset=utf-8", "Request body too large\n", { connection: "close" });
}

function home(req: IncomingMessage, res: ServerResponse): void {
  const xff = String(req.headers["x-forwarded-for"] ?? "");
  html(
    res,
    200,
    "Demo shop",
    `<p>This page came through Gatehouse. The app saw your address as <code>${escapeHtml(xff.split(",").pop()?.trim() ?? "")}</code> and this request as <code>${escapeHtml(String(req.headers["x-request-id"] ?? ""))}</code>.</p>
<ul>
<li><a href="/login">/login</a>: sign in (wrong passwords are reported as AE2)</li>
<li><a href="/account">/account</a>: your account and comments (markup in a comment is reported as IE1)</li>
<li><a href="/api/items">/api/items</a>: a JSON API</li>
<li><a href="/headers">/headers</a>: the headers the app received</li>
</ul>`,
  );
}

async function handle(req: IncomingMessage, res: ServerResponse, state: DemoState): Promise<void> {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const session = sessionOf(req, state);
  const user = session?.user ?? null;
  // Every answer to a signed-in request names its user, as docs/events.md asks: it binds the
  // session to the user, so Gatehouse attributes the session's next requests before they arrive.
  if (user !== null) res.setHeader("gatehouse-user", user);
  const method = req.method ?? "GET";
  if (method === "GET" && path === "/") return home(req, res);
  if (method === "GET" && path === "/login") return html(res, 200, "Sign in", LOGIN_FORM);
  if (method === "POST" && path === "/login") return login(req, res, state);
  if (method === "POST" && path === "/logout") {
    if (session) state.sessions.delete(session.id);
    return html(res, 200, "Signed out", `<p>Signed out.</p>`);
  }
  if (method === "GET" && path === "/account") return account(res, state, user);
  if (method === "POST" && path === "/comments") return comment(req, res, state, user);
  if (method === "GET" && path.startsWith("/orders/")) return order(res, path.slice("/orders/".length), user);
  if (path === "/admin" || path.startsWith("/admin/")) {
    report(res, { detectionPoint: "ACE3", detail: "admin area" });
    return send(res, 403, "application/json", JSON.stringify({ error: "forbidden" }));
  }
  if (method === "GET" && path === "/api/items")
    return send(res, 200, "application/json", JSON.stringify(ITEMS));
  if (method === "GET" && path === "/headers")
    return send(res, 200, "application/json", JSON.stringify(req.headers, null, 2));
  if (method === "POST" && path === "/echo") {
    res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/octet-stream" });
    req.pipe(res);
    return;
  }
  // A plain 404 with no event: broken links and old bookmarks happen to everyone.
  send(res, 404, "application/json", JSON.stringify({ error: "not found" }));
}

export function createDemoApp(): Server {
  const state: DemoState = { sessions: new Map(), comments: [] };
  return createServer((req, res) => {
    handle(req, res, state).catch(() => {
      // Nothing above throws on input; this only keeps a bug from taking the demo down.
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "Internal error\n");
      else res.destroy();
    });
  });
}

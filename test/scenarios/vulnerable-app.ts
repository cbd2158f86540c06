/**
 * A deliberately vulnerable shop, the app the scenario suite puts behind Gatehouse. Each hole sits
 * next to a safe twin, so one attack string can be shown to fail (an attempt) and to work (a
 * breach) against the same app:
 *
 *   GET  /search?q=        q echoed raw into HTML (reflected XSS)     GET /safe/search?q=  HTML-encoded
 *   GET  /items?id=        id concatenated into SQL; a SQL error      GET /safe/items?id=  parameterised
 *                          answers 500 with SQLite's text; a UNION
 *                          can read the `secrets` table (canary row)
 *   GET  /files?name=      name joined to the files directory with    GET /safe/files?name= one plain name
 *                          no check (path traversal)
 *   POST /login            form or JSON; no lockout, so it is open to credential stuffing; a weak real
 *                          account and a honeytoken account, whose login the app reports itself
 *                          (`Gatehouse-Event: HT3;outcome=success`)
 *   GET  /, /products, GET|POST /comments, GET /account: ordinary pages (comments are stored and
 *                          HTML-encoded)
 *
 * Everything lives in memory (node:sqlite) and in one temporary directory: the traversal reaches a
 * fake `etc/passwd` beside the files directory and never the machine's own files, whatever the
 * path asks for.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { DatabaseSync } from "node:sqlite";

/** The decoy values the scenario policy declares under `edge.honeyTraps.tokens`. */
export const HONEYTOKENS = {
  /** A canary record in the `secrets` table: it leaves only through an injection. */
  record: "7f3a9c-canary-ssn-000-00-0000",
  /** A decoy account that no real person uses; its password is "leaked" on purpose. */
  account: "backup_admin",
} as const;

/** Accounts of the shop. `admin` has a password from every credential-stuffing list. */
export const ACCOUNTS = {
  alice: "correct horse battery staple",
  "siobhan.o'neill": "Tá sé go breá 2024",
  admin: "admin123",
  [HONEYTOKENS.account]: "Backup#2019",
} as const;

/** The first line of the fake passwd file that the traversal can read. */
export const PASSWD_LINE = "root:x:0:0:root:/root:/bin/bash";

const PRODUCTS: readonly [string, number][] = [
  ["Lantern", 24.5],
  ["Rope, 20 m", 18],
  ["Padlock", 9.99],
  ["Tarp 5' x 10'", 31],
  ["O'Reilly's field guide", 42],
  ["Tent <2-person>", 189],
];

const MAX_BODY_BYTES = 64 * 1024;

export interface VulnerableApp {
  server: Server;
  /** `http://127.0.0.1:PORT`, for `--upstream`. */
  upstream: string;
  /** Requests the app answered, by status (ground truth for what reached it). */
  statuses: Map<number, number>;
  close(): Promise<void>;
}

export async function startVulnerableApp(): Promise<VulnerableApp> {
  const root = mkdtempSync(join(tmpdir(), "gh-vulnerable-"));
  const filesDir = join(root, "files");
  mkdirSync(filesDir);
  mkdirSync(join(root, "etc"));
  writeFileSync(join(filesDir, "readme.txt"), "Opening hours: 9 to 5, Monday to Saturday.\n");
  writeFileSync(join(filesDir, "price-list.csv"), PRODUCTS.map(([n, p]) => `"${n}",${p}`).join("\n"));
  writeFileSync(
    join(root, "etc", "passwd"),
    `${PASSWD_LINE}\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nshop:x:1000:1000::/home/shop:/bin/sh\n`,
  );

  const db = new DatabaseSync(":memory:");
  db.exec(`
    CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL);
    CREATE TABLE secrets (id INTEGER PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE comments (id INTEGER PRIMARY KEY, author TEXT NOT NULL, text TEXT NOT NULL);
  `);
  const addItem = db.prepare("INSERT INTO items (name, price) VALUES (?, ?)");
  for (const [name, price] of PRODUCTS) addItem.run(name, price);
  db.prepare("INSERT INTO secrets (value) VALUES (?)").run(HONEYTOKENS.record);
  const searchItems = db.prepare("SELECT id, name, price FROM items WHERE name LIKE ? ORDER BY id LIMIT 50");
  const itemById = db.prepare("SELECT id, name, price FROM items WHERE id = ?");
  const allItems = db.prepare("SELECT id, name, price FROM items ORDER BY id");
  const addComment = db.prepare("INSERT INTO comments (author, text) VALUES (?, ?)");
  const recentComments = db.prepare("SELECT author, text FROM comments ORDER BY id DESC LIMIT 20");
  const sessions = new Map<string, string>();
  const statuses = new Map<number, number>();

  function send(res: ServerResponse, status: number, type: string, body: string, extra = {}): void {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...extra });
    res.end(body);
  }
  const html = (res: ServerResponse, status: number, title: string, body: string, extra = {}) =>
    send(res, status, "text/html; charset=utf-8", page(title, body), extra);
  const json = (res: ServerResponse, status: number, value: unknown, extra = {}) =>
    send(res, status, "application/json", JSON.stringify(value), extra);

  function itemsList(rows: readonly Record<string, unknown>[]): string {
    return `<ul>${rows.map((r) => `<li>${encode(String(r.name))}: ${encode(String(r.price))}</li>`).join("")}</ul>`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://shop.invalid");
    const q = (name: string) => url.searchParams.get(name) ?? "";
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case "GET /":
        return html(res, 200, "Shop", HOME);
      case "GET /products":
        return html(res, 200, "Products", itemsList(allItems.all()));
      case "GET /search": {
        // The hole: the query goes into the page as it came.
        const rows = searchItems.all(`%${q("q")}%`);
        return html(res, 200, "Search", `<p>You searched for: ${q("q")}</p>${itemsList(rows)}`);
      }
      case "GET /safe/search": {
        const rows = searchItems.all(`%${q("q")}%`);
        return html(res, 200, "Search", `<p>You searched for: ${encode(q("q"))}</p>${itemsList(rows)}`);
      }
      case "GET /items": {
        // The hole: the id goes into the SQL as it came, and errors are shown as they are.
        try {
          const rows = db.prepare(`SELECT id, name, price FROM items WHERE id = ${q("id")}`).all();
          return rows.length > 0 ? json(res, 200, rows) : json(res, 404, { error: "no such item" });
        } catch (err) {
          const e = err as Error & { code?: string; errstr?: string };
          return html(
            res,
            500,
            "Internal Server Error",
            `<h1>Internal Server Error</h1><pre>${encode(`${e.code}: ${e.message} (${e.errstr})`)}</pre>`,
          );
        }
      }
      case "GET /safe/items": {
        const rows = itemById.all(q("id"));
        return rows.length > 0 ? json(res, 200, rows) : json(res, 404, { error: "no such item" });
      }
      case "GET /files":
        return serveFile(res, resolve(filesDir, q("name")));
      case "GET /safe/files": {
        const name = q("name");
        if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name))
          return send(res, 404, "text/plain", "no such file\n");
        return serveFile(res, join(filesDir, name));
      }
      case "POST /login":
        return login(req, res);
      case "GET /comments":
        return html(res, 200, "Comments", commentsPage());
      case "POST /comments": {
        const fields = await readFields(req);
        if (fields === null) return json(res, 400, { error: "unreadable body" });
        const author = fields.get("author") ?? "";
        const text = fields.get("text") ?? "";
        if (author === "" || text === "") return json(res, 422, { error: "author and text are required" });
        addComment.run(author.slice(0, 200), text.slice(0, 20_000));
        return isJson(req) ? json(res, 201, { ok: true }) : html(res, 200, "Comments", commentsPage());
      }
      case "GET /account": {
        const user = sessions.get(cookie(req, "sid") ?? "");
        if (user === undefined) return json(res, 401, { error: "sign in first" });
        return html(res, 200, "Account", `<p>Signed in as ${encode(user)}</p>`, { "gatehouse-user": user });
      }
      default:
        return json(res, 404, { error: "not found", path: url.pathname });
    }
  }

  function serveFile(res: ServerResponse, path: string): void {
    // Not a defence of the shop (which has none here): it keeps the scenario's traversal inside its
    // own temporary directory, so no test ever reads the machine's files.
    if (!path.startsWith(root + sep)) return send(res, 404, "text/plain", "no such file\n");
    let content: string;
    try {
      content = readFileSync(path, "utf8");
    } catch {
      return send(res, 404, "text/plain", "no such file\n");
    }
    send(res, 200, "text/plain; charset=utf-8", content);
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fields = await readFields(req);
    if (fields === null) return json(res, 400, { error: "unreadable body" });
    const user = fields.get("username") ?? "";
    const password = fields.get("password") ?? "";
    if (!Object.hasOwn(ACCOUNTS, user) || ACCOUNTS[user as keyof typeof ACCOUNTS] !== password)
      return json(res, 401, { error: "wrong user name or password" });
    const sid = randomBytes(16).toString("hex");
    sessions.set(sid, user);
    const headers: Record<string, string> = {
      "set-cookie": `sid=${sid}; Path=/; HttpOnly`,
      "gatehouse-user": user,
    };
    // The app knows this account is a decoy: its login is a breach, reported as one (DESIGN 3.1).
    if (user === HONEYTOKENS.account)
      headers["gatehouse-event"] = 'HT3;outcome=success;detail="honeytoken account logged in"';
    json(res, 200, { welcome: user }, headers);
  }

  function commentsPage(): string {
    const rows = recentComments.all();
    const list = rows.map((r) => `<li><b>${encode(String(r.author))}</b>: ${encode(String(r.text))}</li>`);
    return `<form method="post" action="/comments"><input name="author"><textarea name="text"></textarea><button>Post</button></form><ul>${list.join("")}</ul>`;
  }

  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, "text/plain", `unexpected: ${err.message}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    server,
    upstream: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    statuses,
    close() {
      return new Promise((done) => {
        server.close(() => {
          db.close();
          rmSync(root, { recursive: true, force: true });
          done();
        });
        server.closeAllConnections();
      });
    },
  };
}

const HOME = `<h1>Shop</h1><ul>
<li><a href="/products">Products</a></li><li><a href="/search?q=rope">Search</a></li>
<li><a href="/comments">Comments</a></li><li><a href="/files?name=readme.txt">Opening hours</a></li>
</ul>`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
}

function encode(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function isJson(req: IncomingMessage): boolean {
  return (req.headers["content-type"] ?? "").toLowerCase().startsWith("application/json");
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A form or JSON body as string fields; null when it is too large or not readable. */
async function readFields(req: IncomingMessage): Promise<Map<string, string> | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!isJson(req)) return new Map(new URLSearchParams(text));
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    const fields = new Map<string, string>();
    for (const [k, v] of Object.entries(value)) if (typeof v === "string") fields.set(k, v);
    return fields;
  } catch {
    return null;
  }
}

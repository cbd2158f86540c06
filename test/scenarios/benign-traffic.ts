/**
 * Ordinary traffic for the demo shop, the kind that makes naive signatures fire: names with
 * apostrophes, prices in feet and inches, HTML snippets and markdown in comments, JSON bodies,
 * long search strings, e-mail addresses and URLs as parameters, a mistyped password. Each actor
 * is its own loopback address with its own connections; the mix is fixed (a seeded generator), so
 * a failure names a request that can be sent again.
 */
import { type Client, client } from "../helpers/client.ts";
import { ACCOUNTS } from "./vulnerable-app.ts";

/** Search strings and comment texts that real customers type. */
export const BENIGN_TEXTS: readonly string[] = [
  "O'Brien",
  "Dara O'Brien's lantern",
  "Tarp 5' x 10'",
  "rock 'n' roll",
  "it's 6\" wide, isn't it?",
  "Don't buy the cheap one -- get this",
  "<b>bold</b> and <i>italic</i>",
  "a < b && c > d",
  "Tent <2-person>",
  "**Great** rope, see [the guide](https://example.com/guide?id=3&lang=en)",
  // A textarea: browsers send its line breaks as CR LF. Only ever in a body (see `oneLine`).
  "> quoted\r\n\r\n- item one\r\n- item two\r\n\r\n`code` too",
  "I'd like to select the union jack flag, or the one from Union Square",
  "Drop by and pick one up: 1 for £5, 3 for £12",
  "alice+shop@example.com",
  "Siobhán Ní Bhriain – très bien, naïve café",
  "50% off? 100% yes!",
  "what's the #1 lantern; is it waterproof (IPX4)?",
  "ORDER BY price please — cheapest first",
  "C:\\Users\\Public\\Documents is where I saved the receipt",
  "Script for my play: Act 1, scene 2",
];

/** One very long, very ordinary search. */
export const LONG_SEARCH = Array.from(
  { length: 160 },
  (_, i) => ["camping", "lantern", "waterproof", "rope", "tarp", "O'Neill's"][i % 6],
).join(" ");

export interface BenignResult {
  ip: string;
  requests: number;
  /** Answers by status. */
  statuses: Map<number, number>;
  /** Requests Gatehouse refused (403, 429, 503) or that failed: none are expected. */
  refused: string[];
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

/** A small seeded generator (mulberry32), so every run sends the same mix. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Step {
  what: string;
  path: string;
  options: Parameters<Client["send"]>[1];
}

const form = (fields: Record<string, string>, cookie?: string) => ({
  method: "POST" as const,
  headers: {
    "content-type": "application/x-www-form-urlencoded",
    ...(cookie ? { cookie } : {}),
  },
  body: new URLSearchParams(fields).toString(),
});

const jsonBody = (value: unknown, cookie?: string) => ({
  method: "POST" as const,
  headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
  body: JSON.stringify(value),
});

/** The request for step `n` of one actor. */
function step(random: () => number, author: string, cookie: string | undefined): Step {
  const text = BENIGN_TEXTS[Math.floor(random() * BENIGN_TEXTS.length)]!;
  // A search box is one line (browsers drop line breaks from a text input); a line break in a
  // query is CIE4, and rightly so.
  const q = encodeURIComponent(oneLine(text));
  const get = (what: string, path: string): Step => ({
    what,
    path,
    options: cookie ? { headers: { cookie } } : {},
  });
  switch (Math.floor(random() * 14)) {
    case 0:
      return get("home", "/");
    case 1:
      return get("products", "/products");
    // The vulnerable search reflects these raw: unflagged requests are never inspected, so an
    // HTML snippet echoed back is not a breach.
    case 2:
      return get("search", `/search?q=${q}`);
    case 3:
      return get("safe search", `/safe/search?q=${q}`);
    case 4:
      return get("long search", `/safe/search?q=${encodeURIComponent(LONG_SEARCH)}`);
    case 5:
      return get("item", `/items?id=${1 + Math.floor(random() * 6)}`);
    case 6:
      return get("safe item", `/safe/items?id=${1 + Math.floor(random() * 6)}`);
    case 7:
      return get("file", `/files?name=${random() < 0.5 ? "readme.txt" : "price-list.csv"}`);
    case 8:
      return get("comments", "/comments");
    case 9:
      return { what: "comment", path: "/comments", options: form({ author, text }, cookie) };
    case 10:
      return {
        what: "json comment",
        path: "/comments",
        options: jsonBody({ author, text, rating: 4.5, tags: ["camping", "o'neill"] }, cookie),
      };
    case 11:
      return get(
        "redirect param",
        `/products?next=${encodeURIComponent("https://shop.example.com/account?tab=orders&sort=desc")}&ref=${encodeURIComponent("newsletter@example.com")}`,
      );
    case 12:
      return get("account", "/account");
    default:
      return get("search by email", `/safe/search?q=${encodeURIComponent("alice+shop@example.com")}`);
  }
}

/**
 * `requests` ordinary requests from `ip`, `concurrency` at a time, as `user` (an account of the
 * demo app): it signs in once after one mistyped password, then browses, searches and comments.
 */
export async function benignActor(
  origin: string,
  ip: string,
  user: "alice" | "siobhan.o'neill",
  requests: number,
  concurrency = 4,
): Promise<BenignResult> {
  const c = client(origin, { localAddress: ip });
  const result: BenignResult = { ip, requests: 0, statuses: new Map(), refused: [] };
  const random = seeded(Number(ip.split(".").pop()));
  const count = (what: string, status: number) => {
    result.requests++;
    result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
    if (status === 403 || status === 429 || status === 503 || status === 0)
      result.refused.push(`${what}: ${status}`);
  };
  try {
    // Everyone mistypes a password now and then: one 401, then the right one.
    const typo = await c.send("/login", jsonBody({ username: user, password: `${ACCOUNTS[user]}x` }));
    count("mistyped login", typo.status);
    const login = await c.send("/login", jsonBody({ username: user, password: ACCOUNTS[user] }));
    count("login", login.status);
    const cookie = String(login.headers["set-cookie"] ?? "").split(";")[0] || undefined;
    let next = 2;
    const worker = async () => {
      while (next < requests) {
        next++;
        const s = step(random, user, cookie);
        try {
          const reply = await c.send(s.path, s.options);
          count(`${s.what} ${s.path.slice(0, 80)}`, reply.status);
        } catch (err) {
          count(`${s.what} ${s.path.slice(0, 80)} (${(err as Error).message})`, 0);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await c.close();
  }
  return result;
}

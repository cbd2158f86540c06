/**
 * The guided tour `gatehouse demo` prints: five numbered steps of curl commands that show, against
 * `policies/default.yaml` as shipped, attempts being counted, a throttle, a block, a forced logout
 * and a breach being paged. The steps are data: `renderTour` turns them into the copy-pasteable
 * text, and test/integration/demo.test.ts executes the very same list against a started demo, so
 * what is printed and what is tested cannot drift apart.
 *
 * How many requests each step needs comes from default.yaml:
 *   AE2   10 in 5m per ip   → throttle-ip (60/m, 15m), then block-ip (15m)
 *   ACE3  20 in 1m per ip   → throttle-ip
 *   IE1   3 in 10m per user → log, then logout. A comment with a script tag is one IE1 event:
 *         Gatehouse's edge detection (`edge.detect`) sees the tag itself, and the app's report of
 *         the same point on the same request is not counted again.
 *   HT3   outcome=success   → breach: logout, lock-user (24h), page-ops; and block-ip (1 in 1h)
 * Every step is a different client, named in X-Forwarded-For (the demo trusts it from loopback),
 * so one step's block does not stand in the way of the next.
 */

export interface TourAddresses {
  /** `HOST:PORT` of the proxy (the shop through Gatehouse). */
  proxy: string;
  /** `HOST:PORT` of the admin API. */
  admin: string;
}

/** One curl command, possibly in a shell loop. `$i` in `path` or a form value is the loop counter. */
export interface TourRequest {
  kind: "http";
  method: "GET" | "POST";
  on: "proxy" | "admin";
  path: string;
  /** The client address this request plays, sent as X-Forwarded-For. */
  client?: string;
  /** urlencoded form fields, in order. */
  form?: readonly (readonly [string, string])[];
  /** A cookie jar file: read before the request, updated from its Set-Cookie (as curl -b/-c). */
  jar?: string;
  /** Run it this many times (`for i in $(seq N)`), `$i` counting from 1. */
  repeat?: number;
  /**
   * What is printed: `head` the status line and headers too (`-i`), `body` the body, `status`
   * the status code of each request on one line, `tally` how many requests got each status.
   */
  show: "head" | "body" | "status" | "tally";
  /** Only the body lines containing this text (`| grep -F`). */
  grep?: string;
}

/** `npx gatehouse ARGS`. */
export interface TourCli {
  kind: "gatehouse";
  args: readonly string[];
}

export interface TourCommand {
  run: TourRequest | TourCli;
  /** One line: what the reader should see. */
  expect: string;
}

export type TourStepId = "counted" | "throttle" | "block" | "logout" | "breach";

export interface TourStep {
  id: TourStepId;
  title: string;
  /** Why this happens, in a sentence or two. */
  why: string;
  commands: readonly TourCommand[];
}

/** The clients the steps play (documentation addresses, RFC 5737): one per step that acts. */
export const TOUR_CLIENTS = {
  guesser: "203.0.113.10",
  scanner: "198.51.100.20",
  alice: "192.0.2.30",
  intruder: "198.51.100.40",
} as const;

export const TOUR_JARS = { alice: "alice.cookies", intruder: "intruder.cookies" } as const;

const SCRIPT_COMMENT = "<script>alert(1)</script>";

export function tourSteps(at: TourAddresses): TourStep[] {
  const { guesser, scanner, alice, intruder } = TOUR_CLIENTS;
  const wrongPassword = (client: string, repeat: number): TourRequest => ({
    kind: "http",
    method: "POST",
    on: "proxy",
    path: "/login",
    client,
    form: [
      ["username", "alice"],
      ["password", "guess$i"],
    ],
    repeat,
    show: "status",
  });
  return [
    {
      id: "counted",
      title: "Attempts are counted",
      why: "A visitor gets alice's password wrong 5 times. The app answers 401 and reports AE2 each time. default.yaml acts at 10 in 5 minutes per address, so for now Gatehouse only counts: no attack yet, and no incident (one opens at the first attack and takes in the events before it).",
      commands: [
        { run: wrongPassword(guesser, 5), expect: "401 401 401 401 401" },
        {
          run: {
            kind: "http",
            method: "GET",
            on: "admin",
            path: "/metrics",
            show: "body",
            grep: 'detection_point="AE2"',
          },
          expect: 'gatehouse_events_total{channel="header",detection_point="AE2",outcome="attempt"} 5',
        },
      ],
    },
    {
      id: "throttle",
      title: "A throttle",
      why: "A scanner asks for 20 orders that are not its own. The app answers 404 and reports ACE3 (force browsing); 20 in a minute is ACE3's threshold, and its first rung throttles the address to 60 requests a minute for 15 minutes.",
      commands: [
        {
          run: {
            kind: "http",
            method: "GET",
            on: "proxy",
            path: "/orders/$i",
            client: scanner,
            repeat: 20,
            show: "status",
          },
          expect: "404, 20 times",
        },
        {
          run: {
            kind: "http",
            method: "GET",
            on: "proxy",
            path: "/",
            client: scanner,
            repeat: 130,
            show: "tally",
          },
          expect: "60 a minute get 200, the rest 429 (with Retry-After): e.g. 60 200 and 70 429",
        },
      ],
    },
    {
      id: "block",
      title: "A block",
      why: "The guesser from step 1 comes back for 20 more tries. Its 10th failure in 5 minutes is AE2's first attack (throttle, which 20 tries stay under), its 20th the second: block-ip, 403 for 15 minutes.",
      commands: [
        {
          run: wrongPassword(guesser, 20),
          expect: "401, then 403 from the 20th failure in 5 minutes on (step 1's 5 count too)",
        },
        {
          run: { kind: "http", method: "GET", on: "proxy", path: "/", client: guesser, show: "head" },
          expect: "HTTP/1.1 403 Forbidden, an application/problem+json body with the request id",
        },
        {
          run: { kind: "gatehouse", args: ["incidents", "--admin-listen", at.admin, "--ip", guesser] },
          expect: `one incident for ${guesser}: outcome blocked, AE2, 2 attacks (throttle-ip, block-ip)`,
        },
      ],
    },
    {
      id: "logout",
      title: "A forced logout",
      why: "alice signs in and posts comments with a script tag. The app refuses them (400) and reports IE1; Gatehouse's own edge detection saw the tag already, so each comment is one IE1 event, counted per user. The 3rd is IE1's first attack (log), the 6th its second: logout.",
      commands: [
        {
          run: {
            kind: "http",
            method: "POST",
            on: "proxy",
            path: "/login",
            client: alice,
            jar: TOUR_JARS.alice,
            form: [
              ["username", "alice"],
              ["password", "wonderland"],
            ],
            show: "head",
          },
          expect: "200 and Set-Cookie: sid=…: alice is signed in",
        },
        {
          run: {
            kind: "http",
            method: "GET",
            on: "proxy",
            path: "/account",
            client: alice,
            jar: TOUR_JARS.alice,
            show: "body",
            grep: "Signed in as",
          },
          expect: "<p>Signed in as alice.</p>: the session works",
        },
        {
          run: {
            kind: "http",
            method: "POST",
            on: "proxy",
            path: "/comments",
            client: alice,
            jar: TOUR_JARS.alice,
            form: [["text", SCRIPT_COMMENT]],
            repeat: 6,
            show: "status",
          },
          expect: "400 400 400 400 400 400 (the app refused the markup)",
        },
        {
          run: {
            kind: "http",
            method: "GET",
            on: "proxy",
            path: "/account",
            client: alice,
            jar: TOUR_JARS.alice,
            show: "head",
          },
          expect:
            "Set-Cookie: sid=; Max-Age=0; Path=/ from Gatehouse, and 401 Not signed in (cookie removed)",
        },
      ],
    },
    {
      id: "breach",
      title: "A breach is paged",
      why: "Someone reads the login page's source, finds the forgotten backup login and uses it. backup_admin is a honeytoken: it signs in like any account, and the app reports HT3;outcome=success. That is a breach: the session is logged out, the account locked for 24 hours, the address blocked, and ops paged once.",
      commands: [
        {
          run: {
            kind: "http",
            method: "GET",
            on: "proxy",
            path: "/login",
            client: intruder,
            show: "body",
            grep: "backup",
          },
          expect: "<!-- TODO before launch: delete the backup login backup_admin / letmein-2019 -->",
        },
        {
          run: {
            kind: "http",
            method: "POST",
            on: "proxy",
            path: "/login",
            client: intruder,
            jar: TOUR_JARS.intruder,
            form: [
              ["username", "backup_admin"],
              ["password", "letmein-2019"],
            ],
            show: "head",
          },
          expect: "200 Signed in as backup_admin; in the demo's terminal the listener prints one breach page",
        },
        {
          run: {
            kind: "http",
            method: "GET",
            on: "proxy",
            path: "/account",
            client: intruder,
            jar: TOUR_JARS.intruder,
            show: "head",
          },
          expect: "HTTP/1.1 403 Forbidden: the intruder is out",
        },
        {
          run: {
            kind: "http",
            method: "GET",
            on: "admin",
            path: "/metrics",
            show: "body",
            grep: 'kind="breach"',
          },
          expect: 'gatehouse_notifications_total{channel="ops",kind="breach"} 1: one page, sent once',
        },
      ],
    },
  ];
}

/** Characters that need no quoting in a shell word. */
const PLAIN = /^[A-Za-z0-9_./:=,@%+-]+$/;
/** What a form value may hold to be sent with -d as it is (curl does not encode -d). */
const FORM_PLAIN = /^[A-Za-z0-9_.$-]*$/;

/**
 * A shell word: bare when plain, in double quotes when it uses `$i` (the loop counter; nothing
 * else in a tour word is special inside double quotes, and the check keeps it so), else in single
 * quotes.
 */
export function shellWord(text: string): string {
  if (text.includes("$i")) {
    if (/["\\`!]|\$(?!i\b)/.test(text)) throw new Error(`tour word cannot be quoted: ${text}`);
    return `"${text}"`;
  }
  if (PLAIN.test(text)) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

export function curlLine(r: TourRequest, at: TourAddresses): string {
  const words = ["curl"];
  if (r.show === "head") words.push("-si");
  else if (r.show === "body") words.push("-s");
  else
    words.push("-s", "-o", "/dev/null", "-w", r.show === "status" ? "'%{http_code} '" : "'%{http_code}\\n'");
  if (r.client) words.push("-H", shellWord(`X-Forwarded-For: ${r.client}`));
  if (r.jar) words.push("-b", r.jar, "-c", r.jar);
  for (const [name, value] of r.form ?? []) {
    const field = `${name}=${value}`;
    words.push(FORM_PLAIN.test(value) ? "-d" : "--data-urlencode", shellWord(field));
  }
  words.push(shellWord(`http://${r.on === "proxy" ? at.proxy : at.admin}${r.path}`));
  let line = words.join(" ");
  if (r.grep !== undefined) line += ` | grep -F ${shellWord(r.grep)}`;
  if (r.repeat === undefined) return line;
  const loop = `for i in $(seq ${r.repeat}); do ${line}; done`;
  return r.show === "tally" ? `${loop} | sort | uniq -c` : r.show === "status" ? `${loop}; echo` : loop;
}

export function commandLine(run: TourRequest | TourCli, at: TourAddresses): string {
  return run.kind === "http" ? curlLine(run, at) : `npx gatehouse ${run.args.map(shellWord).join(" ")}`;
}

/** Words of `text` in lines of at most `width` characters, the first after `first`, the rest after `indent`. */
function wrap(text: string, first: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(" ")) {
    if (line.length + word.length + 1 > width && line.trim() !== first.trim()) {
      lines.push(line);
      line = indent + word;
    } else {
      line = line === first ? `${first}${word}` : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

/** The tour as printed: numbered steps, each command on its own line with what to expect under it. */
export function renderTour(steps: readonly TourStep[], at: TourAddresses): string[] {
  const lines: string[] = [];
  steps.forEach((step, n) => {
    lines.push(...wrap(`${step.title}. ${step.why}`, `${n + 1}. `, "   "));
    for (const c of step.commands) {
      lines.push(`   ${commandLine(c.run, at)}`);
      lines.push(`     → ${c.expect}`);
    }
    lines.push("");
  });
  return lines;
}

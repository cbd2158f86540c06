/**
 * `responses:` entries of the policy format (DESIGN sections 4 and 5): one set of keys per
 * action. A key another action takes is "does not apply to action X", so a `rate` on a block is
 * named as the mistake it is rather than as an unknown key.
 */
import { ACTIONS, DECISION_SCOPES, POLICY_DEFAULTS } from "./policy.ts";
import { delay, duration, entryName, enumOf, integer, rate, route } from "./scalars.ts";
import { type Field, listOf, type ObjectShape, object, optional, required, variant } from "./shape.ts";

const scope = required(enumOf(DECISION_SCOPES, "Whom the decision applies to.", { name: "scope" }));

export const prefix = object("With scope range: the network size (default /24 for IPv4, /64 for IPv6).", {
  ipv4: optional(integer(0, 32), "IPv4 prefix length.", POLICY_DEFAULTS.prefix.ipv4),
  ipv6: optional(integer(0, 128), "IPv6 prefix length.", POLICY_DEFAULTS.prefix.ipv6),
});

const lasting = (what: string) => required(duration, `How long the ${what} lasts.`);

/** An action whose scope may be `range` also takes `prefix`, which needs that scope. */
function ranged(doc: string, fields: Record<string, Field>): ObjectShape {
  return object(
    doc,
    { ...fields, prefix: optional(prefix) },
    { needs: { prefix: { key: "scope", value: "range", message: "applies only with scope: range" } } },
  );
}

export const response = variant(
  "A response: what is done to the actor when an attack is answered with it.",
  "action",
  enumOf(ACTIONS, "What the response does (DESIGN section 5).", { name: "action" }),
  {
    block: ranged("Answer 403 to the scope.", { scope, duration: lasting("block") }),
    throttle: ranged("Answer 429 above the rate, counted across all replicas.", {
      scope,
      rate: required(rate, "The rate allowed."),
      duration: lasting("throttle"),
    }),
    disable: ranged("Answer `status` on the matching routes, for the scope.", {
      routes: required(listOf(route, 'Routes to disable, each "METHOD /path/glob".', { min: 1, max: 256 })),
      scope: optional(scope.shape, "Whom the routes are disabled for.", "global"),
      status: optional(integer(400, 599), "The status answered.", POLICY_DEFAULTS.disableStatus),
      duration: lasting("disable"),
    }),
    logout: object("Revoke the session: its cookie is dropped and expired, and it stays revoked.", {
      scope: optional(
        enumOf(["session"] as const, "Always session.", {
          message: () => "logout always applies to the session: scope can only be session",
        }),
        "Always session.",
        "session",
      ),
      duration: optional(duration, "How long the session stays revoked.", "24h"),
    }),
    tarpit: ranged("Hold each request of the scope before forwarding it.", {
      scope,
      delay: required(delay, "How long each request is held (at most 60s)."),
      duration: lasting("tarpit"),
    }),
    flag: ranged("Forward with `Gatehouse-Posture: elevated`, so the app can step up (CAPTCHA, MFA).", {
      scope,
      duration: lasting("flag"),
    }),
    notify: object("Send the attack to a notify channel; no effect on the request.", {
      channel: required(entryName("notify channel", "channel"), "A channel defined under notify:."),
    }),
    log: object("An audit log line; no effect on the request.", {}),
  },
);

/**
 * `edge:` of the policy format: detection Gatehouse does itself, from HTTP alone (DESIGN 3.3).
 * Validated now so a policy written today keeps meaning the same once edge detection acts on it.
 */
import { boundedDuration, decoyToken, enumOf, integer, rate, route, size } from "./scalars.ts";
import { listOf, object, optional, required } from "./shape.ts";

/** The detection points edge detection can raise (DESIGN 3.3). */
export const EDGE_DETECTABLE = [
  "RE1",
  "RE2",
  "RE3",
  "RE4",
  "RE7",
  "EE1",
  "CIE3",
  "CIE4",
  "IE1",
  "CIE1",
  "IE3",
  "ACE3",
  "AE2",
  "AE3",
  "FIO1",
  "UT2",
  "HT2",
  "HT3",
] as const;

const edgePoint = enumOf(EDGE_DETECTABLE, "A detection point that edge detection can raise.", {
  message: (raw) =>
    `${JSON.stringify(raw)} cannot be detected at the edge (supported: ${EDGE_DETECTABLE.join(", ")})`,
});

const guessing = object(
  "A guessing run: a successful login after this many failed ones by the same address or session " +
    "within this long is breach evidence (login-after-guessing). Default 10 within 10m.",
  {
    failures: required(integer(2, 100), "Failed logins before the success."),
    within: required(boundedDuration(1000, 86_400_000, "The window the failures fall in."), "1s to 1d."),
  },
);

const login = object("A login route: failed logins are seen as these statuses (AE2, AE3).", {
  failureStatus: required(
    listOf(integer(400, 599), "Statuses that mean a failed login.", { min: 1, max: 16, unique: true }),
  ),
  guessing: optional(guessing),
});

const declaredRoute = object("A declared route: other methods on it raise RE1, RE3 or RE4.", {
  route: required(route, 'The route, "METHOD /path/glob".'),
  login: optional(login),
});

export const edge = object("Detection at the edge (DESIGN 3.3): each entry switches one on.", {
  detect: optional(
    listOf(edgePoint, "Detection points Gatehouse raises itself.", {
      max: EDGE_DETECTABLE.length,
      unique: true,
    }),
  ),
  routes: optional(listOf(declaredRoute, "Declared routes.", { max: 1024 })),
  honeyTraps: optional(
    object("Decoys; both lists are optional.", {
      routes: optional(listOf(route, "Decoy routes: requesting one raises HT2.", { max: 256 })),
      tokens: optional(
        listOf(decoyToken, "Decoy values: seen in a request or a response, they raise HT3.", { max: 256 }),
      ),
    }),
  ),
  limits: optional(
    object("Limits for RE7, FIO1 and UT2.", {
      paramLength: optional(integer(1, 1_000_000), "Longest parameter value, in characters (RE7)."),
      bodyBytes: optional(size, "Largest request body (FIO1)."),
      requestRate: optional(rate, "Highest request rate of one actor (UT2)."),
    }),
  ),
});

/**
 * The OWASP AppSensor detection points (AppSensor Guide v2 naming): ids, titles and categories
 * exactly as published in the OWASP catalogue (60 points in 12 categories; the catalogue's own
 * count of 61 does not match its table). Apps may also report custom labels.
 */

export interface DetectionPointInfo {
  id: string;
  title: string;
  category: string;
  description: string;
}

export const CATALOGUE: readonly DetectionPointInfo[] = Object.freeze([
  {
    id: "RE1",
    title: "Unexpected HTTP Command",
    category: "RequestException",
    description: "Request contains unexpected/disallowed commands.",
  },
  {
    id: "RE2",
    title: "Attempt to Invoke Unsupported HTTP Method",
    category: "RequestException",
    description: "Non-existent HTTP command (not HEAD, GET, POST, PUT, DELETE, TRACE, OPTIONS, CONNECT).",
  },
  {
    id: "RE3",
    title: "GET When Expecting POST",
    category: "RequestException",
    description: "POST-only page requested with GET.",
  },
  {
    id: "RE4",
    title: "POST When Expecting GET",
    category: "RequestException",
    description: "GET-only page receives a POST.",
  },
  {
    id: "RE5",
    title: "Additional/Duplicated Data in Request",
    category: "RequestException",
    description: "Additional unexpected parameters or headers, or duplicates.",
  },
  {
    id: "RE6",
    title: "Data Missing from Request",
    category: "RequestException",
    description: "Expected parameters or headers missing.",
  },
  {
    id: "RE7",
    title: "Unexpected Quantity of Characters in Parameter",
    category: "RequestException",
    description: "Parameter value with a large number of characters.",
  },
  {
    id: "RE8",
    title: "Unexpected Type of Characters in Parameter",
    category: "RequestException",
    description: "Parameter value with characters outwith the expected range.",
  },
  {
    id: "AE1",
    title: "Use of Multiple Usernames",
    category: "AuthenticationException",
    description: "Multiple usernames attempted when logging in.",
  },
  {
    id: "AE2",
    title: "Multiple Failed Passwords",
    category: "AuthenticationException",
    description: "Multiple bad passwords for a single username.",
  },
  {
    id: "AE3",
    title: "High Rate of Login Attempts",
    category: "AuthenticationException",
    description: "Rate of login attempts too high (automation).",
  },
  {
    id: "AE4",
    title: "Unexpected Quantity of Characters in Username",
    category: "AuthenticationException",
    description: "Very long username.",
  },
  {
    id: "AE5",
    title: "Unexpected Quantity of Characters in Password",
    category: "AuthenticationException",
    description: "Very long password.",
  },
  {
    id: "AE6",
    title: "Unexpected Type of Character in Username",
    category: "AuthenticationException",
    description: "Username characters outside expected range.",
  },
  {
    id: "AE7",
    title: "Unexpected Type of Character in Password",
    category: "AuthenticationException",
    description: "Password characters outside expected range.",
  },
  {
    id: "AE8",
    title: "Providing Only the Username",
    category: "AuthenticationException",
    description: "Login POST with the password variable removed.",
  },
  {
    id: "AE9",
    title: "Providing Only the Password",
    category: "AuthenticationException",
    description: "Login POST with the username variable removed.",
  },
  {
    id: "AE10",
    title: "Additional POST Variable",
    category: "AuthenticationException",
    description: "Additional POST variables in an authentication request.",
  },
  {
    id: "AE11",
    title: "Missing POST Variable",
    category: "AuthenticationException",
    description: "Expected POST variables absent in an authentication request.",
  },
  {
    id: "AE12",
    title: "Utilization of Common Usernames",
    category: "AuthenticationException",
    description: "Common dictionary usernames used to log in.",
  },
  {
    id: "AE13",
    title: "Deviation from Normal GEO Location",
    category: "AuthenticationException",
    description: "Login from a location that deviates from learned GeoIP locations.",
  },
  {
    id: "SE1",
    title: "Modifying Existing Cookie",
    category: "SessionException",
    description: "Cookie with a modified value.",
  },
  {
    id: "SE2",
    title: "Adding New Cookie",
    category: "SessionException",
    description: "Additional unexpected cookies.",
  },
  {
    id: "SE3",
    title: "Deleting Existing Cookie",
    category: "SessionException",
    description: "Expected cookies missing.",
  },
  {
    id: "SE4",
    title: "Substituting Another User's Valid Session ID or Cookie",
    category: "SessionException",
    description: "Cookie data clearly from another user/session.",
  },
  {
    id: "SE5",
    title: "Source Location Changes During Session",
    category: "SessionException",
    description: "Valid session used from multiple source locations (hijacking).",
  },
  {
    id: "SE6",
    title: "Change of User Agent Mid Session",
    category: "SessionException",
    description: "User-Agent changes during a session.",
  },
  {
    id: "ACE1",
    title: "Modifying URL Argument Within a GET for Direct Object Access Attempt",
    category: "AccessControlException",
    description: "Identifier in URL modified to access another object.",
  },
  {
    id: "ACE2",
    title: "Modifying Parameter Within A POST for Direct Object Access Attempt",
    category: "AccessControlException",
    description: "Non-free-text form value changed to an illegal value.",
  },
  {
    id: "ACE3",
    title: "Force Browsing Attempt",
    category: "AccessControlException",
    description: "Request for a non-existent or unauthorised resource.",
  },
  {
    id: "ACE4",
    title: "Evading Presentation Access Control Through Custom POST",
    category: "AccessControlException",
    description: "Unauthorised POST that could only be crafted.",
  },
  {
    id: "IE1",
    title: "Cross Site Scripting Attempt",
    category: "InputException",
    description: "Common XSS attack strings in the request.",
  },
  {
    id: "IE2",
    title: "Violation Of Implemented White Lists",
    category: "InputException",
    description: "Input violates an allow-list validation.",
  },
  {
    id: "IE3",
    title: "Violation Of Implemented Black Lists",
    category: "InputException",
    description: "Input violates a deny-list validation.",
  },
  {
    id: "IE4",
    title: "Violation of Input Data Integrity",
    category: "InputException",
    description: "Header/body values tampered where no change should occur.",
  },
  {
    id: "IE5",
    title: "Violation of Stored Business Data Integrity",
    category: "InputException",
    description: "Input leads to violation of data integrity.",
  },
  {
    id: "IE6",
    title: "Violation of Security Log Integrity",
    category: "InputException",
    description: "Security/audit log tampering detected.",
  },
  {
    id: "IE7",
    title: "Detect Abnormal Content Output Structure",
    category: "InputException",
    description: "Output of unexpected format/structure/components.",
  },
  {
    id: "EE1",
    title: "Double Encoded Character",
    category: "EncodingException",
    description: "One or more double-encoded values.",
  },
  {
    id: "EE2",
    title: "Unexpected Encoding Used",
    category: "EncodingException",
    description: "Values encoded in an unexpected format.",
  },
  {
    id: "CIE1",
    title: "Blacklist Inspection for Common SQL Injection Values",
    category: "CommandInjectionException",
    description: "Common SQL injection strings.",
  },
  {
    id: "CIE2",
    title: "Detect Abnormal Quantity of Returned Records",
    category: "CommandInjectionException",
    description: "Query returns more records than expected.",
  },
  {
    id: "CIE3",
    title: "Null Byte Character in File Request",
    category: "CommandInjectionException",
    description: "Null byte in a requested file name.",
  },
  {
    id: "CIE4",
    title: "Carriage Return or Line Feed Character in File Request",
    category: "CommandInjectionException",
    description: "CR/LF in POST data or URL parameters.",
  },
  {
    id: "FIO1",
    title: "Detect Large Individual File",
    category: "FileIOException",
    description: "Upload exceeds maximum size.",
  },
  {
    id: "FIO2",
    title: "Detect Large Number of File Uploads",
    category: "FileIOException",
    description: "Excessive number of uploads.",
  },
  {
    id: "HT1",
    title: "Alteration to Honey Trap Data",
    category: "HoneyTrap",
    description: "Fake data sent to the user comes back altered.",
  },
  {
    id: "HT2",
    title: "Honey Trap Resource Requested",
    category: "HoneyTrap",
    description: "A purposely leaked, unused resource is requested.",
  },
  {
    id: "HT3",
    title: "Honey Trap Data Used",
    category: "HoneyTrap",
    description: "Special (decoy) data sent or accessed.",
  },
  {
    id: "UT1",
    title: "Irregular Use of Application",
    category: "UserTrendException",
    description: "Unusual pattern of requests for the same page/feature.",
  },
  {
    id: "UT2",
    title: "Speed of Application Use",
    category: "UserTrendException",
    description: "Request speed indicates an automated tool.",
  },
  {
    id: "UT3",
    title: "Frequency of Site Use",
    category: "UserTrendException",
    description: "Change in how often the site is used by a user.",
  },
  {
    id: "UT4",
    title: "Frequency of Feature Use",
    category: "UserTrendException",
    description: "Rate of using a feature changes dramatically.",
  },
  {
    id: "STE1",
    title: "High Number of Logouts Across The Site",
    category: "SystemTrendException",
    description: "Spike in logouts (XSS/CSRF).",
  },
  {
    id: "STE2",
    title: "High Number of Logins Across The Site",
    category: "SystemTrendException",
    description: "Spike in logins (phishing).",
  },
  {
    id: "STE3",
    title: "Significant Change in Usage of Same Transaction Across The Site",
    category: "SystemTrendException",
    description: "Spike in similar activity across users.",
  },
  {
    id: "RP1",
    title: "Suspicious or Disallowed User Source Location",
    category: "Reputation",
    description: "IP associated with a blacklist.",
  },
  {
    id: "RP2",
    title: "Suspicious External User Behavior",
    category: "Reputation",
    description: "Reports from external devices/systems (IDS, FIM, anti-malware\u2026).",
  },
  {
    id: "RP3",
    title: "Suspicious Client-Side Behavior",
    category: "Reputation",
    description: "Client-side security policy exception reports.",
  },
  {
    id: "RP4",
    title: "Change to Environment Threat Level",
    category: "Reputation",
    description: "General threat level is elevated.",
  },
]);

const BY_ID: ReadonlyMap<string, DetectionPointInfo> = new Map(CATALOGUE.map((d) => [d.id, d]));

export function detectionPointInfo(id: string): DetectionPointInfo | undefined {
  return BY_ID.get(id);
}

/** A custom label (DESIGN 3.1): starts with a letter, then letters, digits, `_ . : -`, 64 at most. */
export const LABEL = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

export function isDetectionPoint(label: string): boolean {
  return LABEL.test(label);
}

/**
 * What in a response body shows that a flagged request worked (DESIGN section 6): error text an
 * interpreter printed after an injection reached it, and file content read after a traversal.
 * The sets are small on purpose, each entry text that careless apps and frameworks really print
 * (docs/response-evidence.md lists them). They run only on responses to flagged requests, so a
 * page that merely discusses "syntax error" is never inspected for them.
 *
 * Every pattern is bounded (no unbounded quantifier, no nested repetition over the same
 * characters), so one match is at most MAX_MATCH characters long: that bounds what the stream
 * scanner keeps between chunks (signature-scan.ts), and keeps a hostile body linear to scan.
 */

import { AtomMatcher } from "./atom-matcher.ts";

export type Family = "database" | "stack trace" | "template" | "file";

export interface Signature {
  /** Named in the evidence detail: which engine or file printed it. */
  name: string;
  family: Family;
  /**
   * Literal text, one of which every match contains, at least two bytes long. All atoms of a set
   * are searched in one pass over the bytes (atom-matcher.ts), many times faster than a regular
   * expression: the pattern runs only on a body that has one of its atoms.
   */
  atoms: readonly string[];
  /** Confirms the match around an atom; null when finding an atom is the match. */
  pattern: RegExp | null;
}

/** The longest text any signature here can match (signature-scan.ts keeps three times this). */
export const MAX_MATCH = 1024;

const sig = (family: Family, name: string, pattern: RegExp, ...atoms: string[]): Signature => ({
  name,
  family,
  atoms,
  pattern,
});
const literal = (family: Family, name: string, text: string): Signature => ({
  name,
  family,
  atoms: [text],
  pattern: null,
});

const DATABASE: readonly Signature[] = [
  // SQLite, node:sqlite and the common drivers.
  sig("database", "SQLite", /near "[^"\n]{0,200}": syntax error/, '": syntax error'),
  sig("database", "SQLite", /unrecognized token: "/, "unrecognized token: "),
  literal("database", "SQLite", "SQLITE_ERROR"),
  literal("database", "SQLite", "SQL logic error"),
  literal("database", "SQLite", "sqlite3.OperationalError"),
  literal("database", "SQLite", "SQLite3::SQLException"),
  literal("database", "SQLite", "System.Data.SQLite.SQLiteException"),
  // PostgreSQL.
  sig("database", "PostgreSQL", /(?:syntax error|unterminated quoted string) at or near "/, ' at or near "'),
  literal("database", "PostgreSQL", "org.postgresql.util.PSQLException"),
  literal("database", "PostgreSQL", "PG::SyntaxError"),
  literal("database", "PostgreSQL", "psycopg2.errors."),
  literal("database", "PostgreSQL", "pg_query(): Query failed"),
  literal("database", "PostgreSQL", "invalid input syntax for type"),
  // MySQL and MariaDB.
  literal("database", "MySQL", "You have an error in your SQL syntax"),
  literal("database", "MySQL", "corresponds to your MySQL server version"),
  literal("database", "MySQL", "corresponds to your MariaDB server version"),
  literal("database", "MySQL", "ER_PARSE_ERROR"),
  literal("database", "MySQL", "com.mysql.jdbc"),
  literal("database", "MySQL", "mysqli_sql_exception"),
  sig("database", "MySQL", /Warning: mysql_[a-z_]{1,40}\(/, "Warning: mysql_"),
  sig("database", "MySQL", /Unknown column '[^'\n]{0,200}' in '/, "Unknown column '"),
  // Microsoft SQL Server.
  literal("database", "SQL Server", "Unclosed quotation mark after the character string"),
  sig("database", "SQL Server", /Incorrect syntax near (?:'|the keyword)/, "Incorrect syntax near "),
  literal("database", "SQL Server", "Microsoft OLE DB Provider for SQL Server"),
  literal("database", "SQL Server", "[ODBC SQL Server Driver]"),
  sig(
    "database",
    "SQL Server",
    /(?:System|Microsoft)\.Data\.SqlClient\.SqlException/,
    ".Data.SqlClient.SqlException",
  ),
  // Oracle.
  sig("database", "Oracle", /\bORA-\d{5}: /, "ORA-"),
  literal("database", "Oracle", "quoted string not properly terminated"),
  literal("database", "Oracle", "oracle.jdbc."),
  // Drivers and ORMs that wrap any of them; PDO's SQLSTATE class 42 is syntax or access errors.
  sig("database", "PDO", /SQLSTATE\[42[0-9A-Z]{3}\]/, "SQLSTATE[42"),
  literal("database", "Sequelize", "SequelizeDatabaseError"),
  literal("database", "TypeORM", "QueryFailedError"),
];

// A Node.js frame names a module file with its line and column: `.js:12:5`, `node:internal/…`.
const NODE_FILES = [".js:", ".mjs:", ".cjs:", ".ts:", "(node:"];

const STACK_TRACES: readonly Signature[] = [
  // `at fn (/app/x.js:1:2)`, `at /app/x.js:1:2`, `at node:internal/...`, Windows paths too.
  sig(
    "stack trace",
    "Node.js",
    /\bat (?:[^()\n<>]{1,200} )?\((?:node:|file:\/\/|\/|[A-Za-z]:\\)[^()\s]{1,300}:\d{1,7}:\d{1,7}\)/,
    ...NODE_FILES,
  ),
  sig(
    "stack trace",
    "Node.js",
    /\bat (?:node:|file:\/\/|\/)[^()\s]{1,300}\.[cm]?[jt]s:\d{1,7}:\d{1,7}/,
    ...NODE_FILES,
  ),
  sig(
    "stack trace",
    "Java",
    /\bat [\w$]{1,100}(?:\.[\w$<>]{1,100}){1,30}\((?:[\w$]{1,100}\.(?:java|kt|scala):\d{1,7}|Native Method|Unknown Source)\)/,
    ".java:",
    ".kt:",
    ".scala:",
    "(Native Method)",
    "(Unknown Source)",
  ),
  literal("stack trace", "Java", 'Exception in thread "'),
  literal("stack trace", "Python", "Traceback (most recent call last):"),
  sig("stack trace", "Python", /File "[^"\n]{1,300}", line \d{1,7}, in /, '", line '),
  sig("stack trace", "PHP", /\.php(?:<\/b>)? on line (?:<b>)?\d/, " on line "),
  sig("stack trace", "PHP", /PHP (?:Fatal|Parse) error: /, "PHP Fatal error: ", "PHP Parse error: "),
  sig("stack trace", ".NET", /\.(?:cs|vb):line \d/, ".cs:line ", ".vb:line "),
  literal("stack trace", ".NET", "--- End of stack trace from previous location"),
  sig("stack trace", ".NET", /Server Error in '[^'\n]{0,200}' Application/, "Server Error in '"),
  sig("stack trace", "Ruby", /\.rb:\d{1,7}:in [`']/, ".rb:"),
  sig("stack trace", "Go", /goroutine \d{1,9} \[running\]:/, " [running]:"),
];

const TEMPLATES: readonly Signature[] = [
  literal("template", "Jinja2/Django", "TemplateSyntaxError"),
  literal("template", "Jinja2", "jinja2.exceptions."),
  sig("template", "Twig", /Twig(?:_Error_|\\Error\\)/, "Twig_Error_", "Twig\\Error\\"),
  sig(
    "template",
    "FreeMarker",
    /FreeMarker template error|freemarker\.core\./,
    "FreeMarker template error",
    "freemarker.core.",
  ),
  literal("template", "Velocity", "org.apache.velocity.exception"),
  literal("template", "Thymeleaf", "org.thymeleaf.exceptions"),
  literal("template", "Smarty", "SmartyCompilerException"),
  sig(
    "template",
    "Handlebars",
    /Parse error on line \d{1,7}:\n[^\n]{0,300}\n-{0,300}\^/,
    "Parse error on line ",
  ),
  sig("template", "EJS", /\bejs:\d{1,7}\n/, "ejs:"),
  sig("template", "Pug", /\.pug:\d{1,7}(?::\d{1,7})?\n/, ".pug:"),
  literal("template", "ERB", "ActionView::Template::Error"),
  literal("template", "Mako", "mako.exceptions."),
  sig("template", "Go", /\btemplate: [\w.-]{1,100}:\d{1,7}:/, "template: "),
  literal("template", "Liquid", "Liquid syntax error"),
  literal("template", "Nunjucks", "Template render error"),
];

const FILES: readonly Signature[] = [
  sig("file", "/etc/passwd", /\broot:[x*]:0:0:/, ":0:0:"),
  sig("file", "/etc/passwd", /\bdaemon:[x*]:1:1:/, ":1:1:"),
  sig("file", "/etc/shadow", /\broot:\$(?:1|2[abxy]?|5|6|y)\$/, "root:$"),
  literal("file", "boot.ini", "[boot loader]"),
  literal("file", "win.ini", "; for 16-bit app support"),
  sig("file", "private key", /-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY-----/, "PRIVATE KEY-----"),
  sig(
    "file",
    ".env",
    /\b(?:DB_PASSWORD|DATABASE_PASSWORD|MYSQL_ROOT_PASSWORD|POSTGRES_PASSWORD)=/,
    "_PASSWORD=",
  ),
  sig(
    "file",
    ".env",
    /\bDATABASE_URL=(?:postgres(?:ql)?|mysql|mongodb(?:\+srv)?|redis):\/\//,
    "DATABASE_URL=",
  ),
  sig("file", ".env", /\bAPP_KEY=base64:/, "APP_KEY=base64:"),
  sig(
    "file",
    "AWS credentials",
    /\b(?:AWS_SECRET_ACCESS_KEY|aws_secret_access_key) {0,4}=/,
    "AWS_SECRET_ACCESS_KEY",
    "aws_secret_access_key",
  ),
  literal("file", ".git/config", "repositoryformatversion"),
  literal("file", "PHP source", "<?php"),
];

export interface SignatureSet {
  signatures: readonly Signature[];
  /** Every atom of every signature, in one matcher; `owner[i]` is atom i's signature's index. */
  atoms: AtomMatcher;
  owner: readonly number[];
}

/** A set of signatures with the matcher for their atoms. */
export function signatureSet(signatures: readonly Signature[]): SignatureSet {
  const owner = signatures.flatMap((s, i) => s.atoms.map(() => i));
  return { signatures, atoms: new AtomMatcher(signatures.flatMap((s) => s.atoms)), owner };
}

/** Database, stack-trace and template error text: `error-disclosure` after an injection. */
export const ERROR_TEXT = signatureSet([...DATABASE, ...STACK_TRACES, ...TEMPLATES]);
/** File content: `file-content` after a traversal. */
export const FILE_CONTENT = signatureSet(FILES);
/**
 * Both, in one matcher: most detections that call for one call for the other too (IE3, CIE1,
 * CIE3, CIE4, EE1), and one pass over the bytes is cheaper than two.
 */
export const ERROR_OR_FILE = signatureSet([...DATABASE, ...STACK_TRACES, ...TEMPLATES, ...FILES]);

/**
 * Detections after which error text in the response means the input reached an interpreter:
 * the injection and encoding points (AppSensor InputException, CommandInjectionException
 * except CIE2, EncodingException) and RE8 (unexpected characters), from any channel.
 */
export const INJECTION_POINTS: ReadonlySet<string> = new Set([
  "IE1",
  "IE2",
  "IE3",
  "CIE1",
  "CIE3",
  "CIE4",
  "EE1",
  "EE2",
  "RE8",
]);

/**
 * Detections after which file content in the response means a file was read: traversal (IE3),
 * the file-request points CIE3 (null byte) and CIE4 (CR/LF), double encoding (EE1, how
 * traversal is smuggled), and SQL injection (CIE1: `LOAD_FILE`, `pg_read_file`).
 */
export const TRAVERSAL_POINTS: ReadonlySet<string> = new Set(["IE3", "CIE1", "CIE3", "CIE4", "EE1"]);

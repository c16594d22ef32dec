// The JSON forms of access-log-format: "json" (a fixed object per request) or a JSON object template
// whose string values hold Gunicorn atoms ({"ip": "%(h)s", "ua": "%(a)s"}). Checked by the config
// resolver (appd master), compiled by each HTTP worker.

/** The preset: every field a log shipper usually wants, numbers as numbers. */
export const JSON_PRESET: readonly (readonly [string, string])[] = [
  ['remote_addr', '%(h)s'],
  ['method', '%(m)s'],
  ['path', '%(U)s'],
  ['query', '%(q)s'],
  ['protocol', '%(H)s'],
  ['status', '%(s)s'],
  ['bytes', '%(B)s'],
  ['duration_s', '%(L)s'],
  ['referer', '%(f)s'],
  ['user_agent', '%(a)s'],
];

/** Atoms that print a number: alone in a template value, they become a JSON number instead of a string. */
export const NUMERIC_ATOMS: ReadonlySet<string> = new Set(['s', 'B', 'T', 'M', 'D', 'L']);

/**
 * The fields of a JSON format, in order, as [key, template]; null for a Gunicorn text format. Throws
 * with the reason when the format starts like JSON but is not an object of strings.
 */
export function jsonAccessLogFields(format: string): (readonly [string, string])[] | null {
  if (format.trim() === 'json') return [...JSON_PRESET];
  if (!format.trimStart().startsWith('{')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(format);
  } catch (error) {
    throw new Error(
      `a format starting with "{" must be a JSON object of strings: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('a format starting with "{" must be a JSON object of strings');
  const fields = Object.entries(parsed);
  if (fields.length === 0) throw new Error('the JSON access log format has no field');
  for (const [key, value] of fields) {
    if (typeof value !== 'string')
      throw new Error(`field "${key}" of the JSON access log format is not a string of atoms (write "%(s)s", not 200)`);
  }
  return fields as [string, string][];
}

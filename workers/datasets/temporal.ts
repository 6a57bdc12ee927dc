// Dates and timestamps: which texts are read as one (unambiguous ISO-8601 forms only), how they are stored in a
// dataset file, and the numbers the binary formats need from them.
//
// Read: `2014-01-01` (a date); `2001-01-01 17:06`, `2001-01-01T17:06:00`, `…:00.5` up to microseconds (a timestamp
// without zone); any of those followed by `Z`, `+02:00`, `+0200` or `+02` (a timestamp with zone). Never locale forms
// (`01/02/2026`, `02.01.2026`), week or ordinal dates, 24:00, leap seconds, or more than six fractional digits: a
// value that would lose a digit or could mean two things stays text.
//
// Stored as canonical ISO-8601 text: dates `YYYY-MM-DD`; timestamps `YYYY-MM-DDTHH:MM:SS[.f…]`, with the fraction's
// digits as written, and — for zoned values, normalised to UTC — a final `Z`. Text sorts in time order, and the
// text formats write it as it is.

export type TemporalKind = 'date' | 'timestamp' | 'timestamptz';

const DATE = /^(\d{4})-(\d\d)-(\d\d)$/;
const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?(Z|[+-]\d\d(?::?\d\d)?)?$/;

const MS_PER_DAY = 86_400_000;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isValidDay(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** Milliseconds since the epoch of a UTC wall clock; Date.UTC would map years 0–99 to 1900–1999. */
function utcMillis(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** What a text is, or undefined when it is no date or timestamp. Cheap to reject: most texts fail the first test. */
export function classifyTemporal(text: string): TemporalKind | undefined {
  if (text.length < 10 || text.charCodeAt(4) !== 0x2d /* - */) return undefined;
  if (text.length === 10) {
    const match = DATE.exec(text);
    return match && isValidDay(Number(match[1]), Number(match[2]), Number(match[3])) ? 'date' : undefined;
  }
  const parsed = parseTimestamp(text);
  return parsed === undefined ? undefined : parsed.zoned ? 'timestamptz' : 'timestamp';
}

interface ParsedTimestamp {
  /** The canonical stored text. */
  text: string;
  zoned: boolean;
}

function parseTimestamp(text: string): ParsedTimestamp | undefined {
  const match = TIMESTAMP.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s = '00', fraction, zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (!isValidDay(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  const tail = fraction === undefined ? '' : `.${fraction}`;
  if (zone === undefined) return { text: `${y}-${mo}-${d}T${h}:${mi}:${s}${tail}`, zoned: false };
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetRest = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (offsetHours > 23 || offsetRest > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  const utc = new Date(utcMillis(year, month, day, hour, minute, second) - offsetMinutes * 60_000);
  const utcYear = utc.getUTCFullYear();
  if (utcYear < 0 || utcYear > 9999) return undefined;
  const date = `${pad(utcYear, 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())}`;
  return { text: `${date}T${pad(utc.getUTCHours())}:${pad(utc.getUTCMinutes())}:${pad(utc.getUTCSeconds())}${tail}Z`, zoned: true };
}

/** The stored text of a value classifyTemporal accepted as `kind`. */
export function canonicalTemporal(text: string, kind: TemporalKind): string {
  return kind === 'date' ? text : parseTimestamp(text)!.text;
}

// Stored texts back to numbers, for the export formats. The texts are canonical (written by the import), so
// fixed positions suffice.

/** Days since 1970-01-01 of a stored date. */
export function dateToEpochDays(stored: string): number {
  return Math.round(utcMillis(Number(stored.slice(0, 4)), Number(stored.slice(5, 7)), Number(stored.slice(8, 10))) / MS_PER_DAY);
}

/** Milliseconds since the epoch of a stored timestamp (its wall clock taken as UTC when it has no zone), fraction cut to ms. */
export function timestampToEpochMillis(stored: string): number {
  return wholeSecondsMillis(stored) + Math.floor(fractionMicros(stored) / 1000);
}

/** Microseconds since the epoch of a stored timestamp, exactly. */
export function timestampToEpochMicros(stored: string): bigint {
  return BigInt(wholeSecondsMillis(stored)) * 1000n + BigInt(fractionMicros(stored));
}

function wholeSecondsMillis(stored: string): number {
  return utcMillis(
    Number(stored.slice(0, 4)),
    Number(stored.slice(5, 7)),
    Number(stored.slice(8, 10)),
    Number(stored.slice(11, 13)),
    Number(stored.slice(14, 16)),
    Number(stored.slice(17, 19)),
  );
}

function fractionMicros(stored: string): number {
  if (stored.charCodeAt(19) !== 0x2e /* . */) return 0;
  const end = stored.endsWith('Z') ? stored.length - 1 : stored.length;
  return Number(stored.slice(20, end).padEnd(6, '0'));
}

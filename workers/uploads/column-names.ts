/**
 * Header names are kept exactly as given (unicode, spaces, quotes, case), except:
 * - an empty name becomes `column_<position>` (1-based), since no format can address an empty name well;
 * - a name seen before gets the first free suffix `_2`, `_3`, … — "free" meaning used by no other column, original
 *   or renamed, so `a,a,a_2` becomes `a`, `a_3`, `a_2`. Names compare exactly (case- and normalisation-sensitive).
 */
export function makeUniqueColumnNames(rawNames: readonly string[]): string[] {
  const wanted = rawNames.map((name, index) => (name === '' ? `column_${index + 1}` : name));
  const taken = new Set(wanted);
  const seen = new Set<string>();
  return wanted.map((name) => {
    if (!seen.has(name)) {
      seen.add(name);
      return name;
    }
    let suffix = 2;
    while (taken.has(`${name}_${suffix}`)) suffix++;
    const unique = `${name}_${suffix}`;
    taken.add(unique);
    seen.add(unique);
    return unique;
  });
}

/**
 * Reals print as JavaScript's shortest round-trip form, plus `.0` when that form is a whole number (`6100.0`,
 * not `6100`), so a reader — offload's own import included — keeps the column a real. Exponent forms (`1e+21`)
 * are already unambiguous and left alone.
 */
export function formatReal(value: number): string {
  const text = String(value);
  return Number.isInteger(value) && text.indexOf('e') === -1 ? `${text}.0` : text;
}

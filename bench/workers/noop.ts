// The bench's no-op job kind: measures what the engine costs around a task that does nothing.
export default async function noop(): Promise<null> {
  return null;
}

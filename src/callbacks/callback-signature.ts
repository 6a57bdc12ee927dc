// The signature of a completion callback: HMAC-SHA256 with the shared secret over `timestamp + "." + body`, sent as
// `Offload-Signature: t=<unix seconds>,v1=<hex>`. The timestamp is signed so that a receiver can refuse replays of
// an old delivery (README: "Completion callbacks").
import { createHmac } from 'node:crypto';

export function signatureHeader(secret: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${digest}`;
}

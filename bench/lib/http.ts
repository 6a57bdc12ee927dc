// A minimal HTTP/1.1 client on a keep-alive agent: fetch (undici) adds its own overhead to each request, which
// would blur a latency measured in milliseconds.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface Response {
  status: number;
  body: any;
  text: string;
}

export function request(
  baseUrl: string,
  method: string,
  path: string,
  { json, body, contentType }: { json?: unknown; body?: string; contentType?: string } = {},
): Promise<Response> {
  const payload = json !== undefined ? JSON.stringify(json) : body;
  const headers: Record<string, string> = {};
  if (payload !== undefined) {
    headers['content-type'] = contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, baseUrl), { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = undefined;
        if ((res.headers['content-type'] ?? '').includes('json') && text) {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Fails with the response text unless the status is one of `expected`. */
export async function requestOk(
  baseUrl: string,
  method: string,
  path: string,
  options: Parameters<typeof request>[3] = {},
  expected: number[] = [200, 201, 202, 204],
): Promise<Response> {
  const response = await request(baseUrl, method, path, options);
  if (!expected.includes(response.status)) {
    throw new Error(`${method} ${path} answered ${response.status}: ${response.text.slice(0, 500)}`);
  }
  return response;
}

/** Closes idle keep-alive sockets so the process can exit. */
export function closeHttpAgent(): void {
  agent.destroy();
}

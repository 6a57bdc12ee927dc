// Puts a big bench dataset into a running offload server without uploading it: a two-row CSV with the same
// header goes through the real API (POST /datasets → import job → catalog row), then the small dataset file is
// replaced, under the same id, by a hard link to the generated one. Exports read rows and columns from the file
// itself, so they see all of it; only the catalog's `rows` still says 2.
import { type BenchDataset, BENCH_COLUMNS, benchRow, linkDataset } from './dataset.js';
import { requestOk } from './http.js';
import { waitFor } from './stats.js';

export async function registerBenchDataset(url: string, dataDir: string, dataset: BenchDataset): Promise<string> {
  const field = (value: unknown): string => {
    if (value === null) return '';
    const text = String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const csv = [BENCH_COLUMNS.map((column) => column.name), benchRow(1), benchRow(2)].map((row) => row.map(field).join(',')).join('\r\n');
  const created = await requestOk(url, 'POST', '/datasets?name=bench', { body: `${csv}\r\n`, contentType: 'text/csv' });
  const id = created.body.id as string;
  await waitFor('the bench dataset import', async () => {
    const { body } = await requestOk(url, 'GET', `/datasets/${id}`);
    if (body.status === 'failed') throw new Error(`importing the two-row bench CSV failed: ${JSON.stringify(body.error)}`);
    return body.status === 'ready' ? true : undefined;
  });
  linkDataset(dataset, dataDir, id);
  return id;
}

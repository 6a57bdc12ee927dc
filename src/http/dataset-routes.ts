import Router from '@koa/router';
import type { Datasets, UploadFormat } from '../datasets/datasets.js';
import { AppError } from './errors.js';
import { decodeListCursor, encodeListCursor } from '../engine/list-cursor.js';
import type { RouteDoc } from './openapi.js';
import { AcceptedDataset, CreateDatasetQuery, DatasetDocument, DatasetList, PageQuery, ResourceIdParams } from './resource-schemas.js';
import { importOptionsOf } from './import-query.js';
import { validate } from './validate.js';
import { DatasetPreview, PreviewQuery } from './console-schemas.js';

const UPLOAD_TYPES: Record<string, UploadFormat> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};

export function createDatasetRoutes(datasets: Datasets, maxUploadBytes: number): Router {
  const router = new Router({ prefix: '/datasets' });

  async function loadDataset(id: unknown) {
    const params = validate(ResourceIdParams, { id }, 'path');
    const dataset = await datasets.get(params.id);
    if (!dataset) throw new AppError('not_found', `No dataset with id ${params.id}.`);
    return dataset;
  }

  router.post('/', async (ctx) => {
    const query = validate(CreateDatasetQuery, ctx.query, 'query');
    const format = UPLOAD_TYPES[ctx.request.type];
    if (!format) {
      throw new AppError('unsupported_media_type', 'Upload a dataset as text/csv (with a header row) or application/x-ndjson.');
    }
    const options = importOptionsOf(query, ctx.request.charset);
    if (ctx.request.length > maxUploadBytes) {
      ctx.set('Connection', 'close');
      throw new AppError('payload_too_large', `The upload is larger than the limit of ${maxUploadBytes} bytes.`);
    }
    const dataset = await datasets.create({ name: query.name, format, body: ctx.req, limitBytes: maxUploadBytes, options });
    ctx.status = 202;
    ctx.set({ Location: `/datasets/${dataset.id}`, 'Retry-After': '1' });
    ctx.body = { id: dataset.id, job_id: dataset.job_id, status: dataset.status, status_url: `/datasets/${dataset.id}` };
  });

  router.get('/', async (ctx) => {
    const query = validate(PageQuery, ctx.query, 'query');
    const page = await datasets.list({ limit: query.limit, cursor: query.cursor === undefined ? undefined : decodeListCursor(query.cursor) });
    ctx.body = { datasets: page.datasets, next_cursor: page.nextCursor === null ? null : encodeListCursor(page.nextCursor) };
  });

  router.get('/:id', async (ctx) => {
    const dataset = await loadDataset(ctx.params.id);
    if (dataset.status === 'importing') ctx.set('Retry-After', '1');
    ctx.body = dataset;
  });

  router.get('/:id/preview', async (ctx) => {
    const params = validate(ResourceIdParams, { id: ctx.params.id }, 'path');
    const { limit } = validate(PreviewQuery, ctx.query, 'query');
    const found = await datasets.preview(params.id, limit);
    if (!found) throw new AppError('not_found', `No dataset with id ${params.id}.`);
    if (found.dataset.status === 'importing') throw new AppError('not_ready', 'The dataset is still being imported.', { headers: { 'Retry-After': '1' } });
    if (found.dataset.status === 'failed') throw new AppError('conflict', 'The import of this dataset failed: it has no rows.');
    if (!found.preview) throw new AppError('gone', 'The dataset file is gone.');
    ctx.body = { columns: found.preview.columns, rows: found.preview.rows, total_rows: found.preview.totalRows } satisfies DatasetPreview;
  });

  router.delete('/:id', async (ctx) => {
    const dataset = await loadDataset(ctx.params.id);
    if (!(await datasets.remove(dataset.id))) throw new AppError('not_found', `No dataset with id ${dataset.id}.`);
    ctx.status = 204;
  });

  return router;
}

/** The OpenAPI description of the routes above; test/openapi.test.ts keeps the two in step. */
export const datasetRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/datasets',
    operationId: 'uploadDataset',
    tags: ['datasets'],
    summary: 'Upload a CSV (header row) or NDJSON file; an import job turns it into a dataset',
    description:
      'The body is streamed to disk, never held in memory, and refused past --max-upload-mb. UTF-8, or ISO-8859-1 with `charset=iso-8859-1` (in Content-Type or the query); other charsets are refused with 415. The query options say how to read it; the dataset document reports what was used, and `warnings` what looks wrong.',
    query: CreateDatasetQuery,
    body: { contentType: Object.keys(UPLOAD_TYPES), description: 'The file itself.' },
    responses: {
      202: {
        description: 'Accepted: the upload is stored and its import job pending.',
        schema: AcceptedDataset,
        headers: { Location: { description: 'The dataset: /datasets/{id}.' }, 'Retry-After': { description: 'Seconds to wait before polling.' } },
      },
    },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'queue_full', 'shutting_down', 'unavailable'],
  },
  {
    method: 'get',
    path: '/datasets',
    operationId: 'listDatasets',
    tags: ['datasets'],
    summary: 'List datasets, newest first',
    query: PageQuery,
    responses: { 200: { description: 'One page of datasets.', schema: DatasetList } },
    errors: ['invalid_request'],
  },
  {
    method: 'get',
    path: '/datasets/{id}',
    operationId: 'getDataset',
    tags: ['datasets'],
    summary: 'A dataset: status, rows and typed columns',
    params: ResourceIdParams,
    responses: { 200: { description: 'The dataset.', schema: DatasetDocument } },
    errors: ['invalid_request', 'not_found'],
  },
  {
    method: 'get',
    path: '/datasets/{id}/preview',
    operationId: 'previewDataset',
    tags: ['datasets'],
    summary: "A ready dataset's columns and first rows",
    params: ResourceIdParams,
    query: PreviewQuery,
    responses: { 200: { description: 'The first `limit` rows, in import order.', schema: DatasetPreview } },
    errors: ['invalid_request', 'not_found', 'not_ready', 'conflict', 'gone'],
  },
  {
    method: 'delete',
    path: '/datasets/{id}',
    operationId: 'deleteDataset',
    tags: ['datasets'],
    summary: 'Delete a dataset and its file',
    params: ResourceIdParams,
    responses: { 204: { description: 'Deleted.' } },
    errors: ['invalid_request', 'not_found', 'conflict', 'unavailable'],
  },
];

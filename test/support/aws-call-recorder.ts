/**
 * Records the AWS calls the pipeline's code makes while it runs against the real local engines,
 * and turns each into the IAM authorization requests AWS makes for it (test/ops/iam-proof.test.ts):
 *
 * - S3 clients handed to the functions' cores: an SDK middleware on the client (one call per
 *   command, with its input and the HTTP status of the answer);
 * - OpenSearch clients: the client's `request` event (one call per HTTP request; each is
 *   authorized on its own as `es:ESHttp<Method>` on `<domain ARN>/<path>`);
 * - the Spark job: an HTTP proxy between the job's s3a connector and the S3 server that records
 *   every request on the wire (method, path, query, copy source, the keys of a multi-object
 *   delete, status) and forwards it unchanged, Host header included, so signatures still verify.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@opensearch-project/opensearch';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'http';
import type { AddressInfo } from 'net';

/** One S3 API operation as S3 sees it (a command of the SDK, or a request the proxy parsed). */
export interface S3Call {
  readonly service: 's3';
  /** The S3 API operation, e.g. `PutObject`, `ListObjectsV2`, `HeadObject`. */
  readonly operation: string;
  readonly bucket: string;
  readonly key?: string;
  /** ListObjects(V2): the `prefix` parameter, when the request has one. */
  readonly prefix?: string;
  readonly delimiter?: string;
  /** CopyObject / UploadPartCopy: `bucket/key` of the source. */
  readonly copySource?: string;
  /** DeleteObjects: every key of the request. */
  readonly keys?: readonly string[];
  /** HTTP status of the answer (0: no answer). */
  readonly status: number;
}

/** One HTTP request to the OpenSearch domain. */
export interface OpenSearchCall {
  readonly service: 'es';
  readonly method: string;
  /** The path without the query string, as sent (percent-encoded). */
  readonly path: string;
}

export type AwsCall = S3Call | OpenSearchCall;

/** One IAM authorization AWS makes for a call: action, resource ARN and request context. */
export interface AuthorizationRequest {
  readonly action: string;
  readonly resource: string;
  readonly context: Record<string, string>;
  /** Why the call needs it, for the test output (e.g. `HeadObject 404: S3 answers 404 only with s3:ListBucket`). */
  readonly because: string;
}

// ---------------------------------------------------------------------------------------------
// Recording

/** Adds a middleware to an S3 client that reports every command it sends, with its outcome. */
export function recordS3Client(client: S3Client, sink: (call: S3Call) => void): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, any>;
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      const report = (status: number) => sink({
        service: 's3',
        operation,
        bucket: String(input.Bucket ?? ''),
        key: input.Key,
        prefix: input.Prefix,
        delimiter: input.Delimiter,
        copySource: input.CopySource === undefined ? undefined : decodeURIComponent(String(input.CopySource)).replace(/^\//, ''),
        keys: input.Delete?.Objects?.map((o: { Key: string }) => o.Key),
        status,
      });
      try {
        const result = await next(args);
        report((result.output as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 200);
        return result;
      } catch (error) {
        report((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0);
        throw error;
      }
    },
    { step: 'initialize', name: 'awsCallRecorder', override: true },
  );
}

/** Reports every HTTP request the OpenSearch client sends (each attempt of a retried request too). */
export function recordOpenSearchClient(client: Client, sink: (call: OpenSearchCall) => void): void {
  client.on('request', (_error: unknown, result: { meta?: { request?: { params?: { method?: string; path?: string } } } } | null) => {
    const params = result?.meta?.request?.params;
    if (!params?.method || params.path === undefined) return;
    sink({ service: 'es', method: params.method.toUpperCase(), path: params.path.split('?')[0] });
  });
}

/**
 * The S3 operation of a REST request (path-style addressing), as the S3 API reference names it.
 * Throws on a request it does not know, so that a new kind of call cannot pass unchecked.
 */
export function s3OperationOf(method: string, url: string, headers: Record<string, string | string[] | undefined>): Omit<S3Call, 'status' | 'keys' | 'service'> {
  const parsed = new URL(url, 'http://s3.local');
  const segments = parsed.pathname.replace(/^\//, '');
  const slash = segments.indexOf('/');
  const bucket = decodeURIComponent(slash < 0 ? segments : segments.slice(0, slash));
  const key = slash < 0 || slash === segments.length - 1 ? undefined : decodeURIComponent(segments.slice(slash + 1));
  const q = parsed.searchParams;
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const copy = header('x-amz-copy-source');
  const copySource = copy === undefined ? undefined : decodeURIComponent(copy.split('?')[0]).replace(/^\//, '');
  const prefix = q.has('prefix') ? q.get('prefix')! : undefined;
  const delimiter = q.has('delimiter') ? q.get('delimiter')! : undefined;
  const m = method.toUpperCase();
  const op = (operation: string) => ({ operation, bucket, key, prefix, delimiter, copySource });
  if (!bucket) throw new Error(`unknown S3 request ${method} ${url}: no bucket`);
  if (key === undefined) {
    if (m === 'GET' && q.has('location')) return op('GetBucketLocation');
    if (m === 'GET' && q.has('uploads')) return op('ListMultipartUploads');
    if (m === 'GET' && q.get('list-type') === '2') return op('ListObjectsV2');
    if (m === 'GET' && [...q.keys()].every((k) => ['prefix', 'delimiter', 'marker', 'max-keys', 'encoding-type'].includes(k))) return op('ListObjects');
    if (m === 'HEAD' && [...q.keys()].length === 0) return op('HeadBucket');
    if (m === 'POST' && q.has('delete')) return op('DeleteObjects');
    if (m === 'PUT' && [...q.keys()].length === 0) return op('CreateBucket');
  } else {
    if (m === 'HEAD') return op('HeadObject');
    if (m === 'GET' && q.has('uploadId')) return op('ListParts');
    if (m === 'GET' && !q.has('tagging') && !q.has('acl') && !q.has('attributes')) return op('GetObject');
    if (m === 'PUT' && q.has('partNumber') && q.has('uploadId')) return op(copySource ? 'UploadPartCopy' : 'UploadPart');
    if (m === 'PUT' && [...q.keys()].length === 0) return op(copySource ? 'CopyObject' : 'PutObject');
    if (m === 'POST' && q.has('uploads')) return op('CreateMultipartUpload');
    if (m === 'POST' && q.has('uploadId')) return op('CompleteMultipartUpload');
    if (m === 'DELETE' && q.has('uploadId')) return op('AbortMultipartUpload');
    if (m === 'DELETE' && [...q.keys()].length === 0) return op('DeleteObject');
  }
  throw new Error(`unknown S3 request ${method} ${url}: extend s3OperationOf in test/support/aws-call-recorder.ts`);
}

/** The `<Key>` elements of a DeleteObjects request body (XML). */
export function deleteObjectsKeys(body: string): string[] {
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  return [...body.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => unescape(m[1]));
}

/**
 * A recording HTTP proxy in front of an S3 server: point a client's endpoint at `endpoint` and
 * every request it makes is recorded (as an S3Call) and forwarded unchanged to `target`.
 * Requests are kept in arrival order; `calls` holds those answered so far.
 */
export class RecordingS3Proxy {
  readonly calls: S3Call[] = [];
  /** Requests the proxy could not classify (the test fails on any). */
  readonly unknown: string[] = [];
  private constructor(private readonly server: Server, readonly endpoint: string) {}

  static async start(target: string): Promise<RecordingS3Proxy> {
    const upstream = new URL(target);
    let proxy: RecordingS3Proxy | undefined;
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const forwarded = httpRequest(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('end', () => proxy!.record(req, body, answer.statusCode ?? 0));
          },
        );
        forwarded.on('error', (error) => {
          proxy!.record(req, body, 0);
          res.writeHead(502);
          res.end(String(error));
        });
        forwarded.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new RecordingS3Proxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  private record(req: IncomingMessage, body: Buffer, status: number): void {
    try {
      const operation = s3OperationOf(req.method ?? 'GET', req.url ?? '/', req.headers);
      this.calls.push({
        service: 's3',
        ...operation,
        keys: operation.operation === 'DeleteObjects' ? deleteObjectsKeys(body.toString('utf8')) : undefined,
        status,
      });
    } catch (error) {
      this.unknown.push((error as Error).message);
    }
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// Calls -> IAM authorization requests

/**
 * The IAM authorization requests AWS makes for an S3 call (Service Authorization Reference,
 * Amazon S3: actions of each API operation), with the request context S3 fills in. Calls are
 * made over TLS 1.2 or newer, as the SDKs and Glue's connector make them in AWS.
 *
 * A GetObject or HeadObject answered 404 also needs s3:ListBucket: without it S3 answers 403, and
 * the code (the indexer's skip of a replaced object, the ingest's missing erasure record, the
 * connector's probes of paths that do not exist yet) would fail instead. S3 evaluates that check
 * with the object key as `s3:prefix` (what lib/indexing.ts and lib/ingest.ts rely on).
 */
export function s3Authorizations(call: S3Call, partition = 'aws'): AuthorizationRequest[] {
  const tls = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };
  const bucketArn = `arn:${partition}:s3:::${call.bucket}`;
  const objectArn = (key: string | undefined) => `${bucketArn}/${key ?? ''}`;
  const named = (what: string) => `${call.operation} ${what}`;
  const onObject = (action: string, key = call.key) => ({ action, resource: objectArn(key), context: tls, because: named(`s3://${call.bucket}/${key}`) });
  const list = (prefix: string | undefined, because: string): AuthorizationRequest => ({
    action: 's3:ListBucket',
    resource: bucketArn,
    context: { ...tls, ...(prefix === undefined ? {} : { 's3:prefix': prefix }), ...(call.delimiter === undefined ? {} : { 's3:delimiter': call.delimiter }) },
    because,
  });
  const missing = call.status === 404 ? [list(call.key, named(`s3://${call.bucket}/${call.key} answered 404: S3 answers 404, not 403, only with s3:ListBucket`))] : [];
  const copySource = (): AuthorizationRequest[] => {
    if (!call.copySource) return [];
    const slash = call.copySource.indexOf('/');
    const sourceArn = `arn:${partition}:s3:::${call.copySource.slice(0, slash)}/${call.copySource.slice(slash + 1)}`;
    return [{ action: 's3:GetObject', resource: sourceArn, context: tls, because: named(`source s3://${call.copySource}`) }];
  };
  switch (call.operation) {
    case 'GetObject':
    case 'HeadObject':
      return [onObject('s3:GetObject'), ...missing];
    case 'PutObject':
    case 'CreateMultipartUpload':
    case 'UploadPart':
    case 'CompleteMultipartUpload':
      return [onObject('s3:PutObject')];
    case 'CopyObject':
    case 'UploadPartCopy':
      return [onObject('s3:PutObject'), ...copySource()];
    case 'DeleteObject':
      return [onObject('s3:DeleteObject')];
    case 'DeleteObjects':
      return (call.keys ?? []).map((key) => onObject('s3:DeleteObject', key));
    case 'AbortMultipartUpload':
      return [onObject('s3:AbortMultipartUpload')];
    case 'ListParts':
      return [onObject('s3:ListMultipartUploadParts')];
    case 'ListObjects':
    case 'ListObjectsV2':
      return [list(call.prefix, named(`s3://${call.bucket}/${call.prefix ?? ''}${call.delimiter ? ` (delimiter ${call.delimiter})` : ''}`))];
    case 'HeadBucket':
      return [list(undefined, named(`s3://${call.bucket}`))];
    case 'GetBucketLocation':
      return [{ action: 's3:GetBucketLocation', resource: bucketArn, context: tls, because: named(`s3://${call.bucket}`) }];
    case 'ListMultipartUploads':
      return [{ action: 's3:ListBucketMultipartUploads', resource: bucketArn, context: tls, because: named(`s3://${call.bucket}`) }];
    case 'CreateBucket':
      return [{ action: 's3:CreateBucket', resource: bucketArn, context: tls, because: named(`s3://${call.bucket}`) }];
    default:
      throw new Error(`no IAM mapping for S3 ${call.operation}: extend s3Authorizations in test/support/aws-call-recorder.ts`);
  }
}

/**
 * The IAM authorization of an HTTP request to an OpenSearch Service domain: `es:ESHttp<Method>`
 * on `<domain ARN>/<path>` (the path decoded, without the query string).
 */
export function openSearchAuthorization(call: OpenSearchCall, domainArn: string): AuthorizationRequest {
  const verb = call.method.charAt(0) + call.method.slice(1).toLowerCase();
  if (!['Get', 'Head', 'Post', 'Put', 'Delete', 'Patch'].includes(verb)) throw new Error(`no es:ESHttp action for HTTP ${call.method}`);
  const path = decodeURIComponent(call.path).replace(/^\//, '');
  return { action: `es:ESHttp${verb}`, resource: `${domainArn}/${path}`, context: { 'aws:SecureTransport': 'true' }, because: `${call.method} /${path}` };
}

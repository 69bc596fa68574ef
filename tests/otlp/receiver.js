#!/usr/bin/env node
// OTLP test receiver: OTLP/HTTP (node http) and OTLP/gRPC (@grpc/grpc-js)
// on 127.0.0.1, decoding every request with OpenTelemetry JS's generated
// protobuf code, so that what spyglass sends is checked by a real decoder.
//
//   node receiver.js --http-port P --grpc-port Q --out FILE
//                    [--fail-for SECONDS] [--fail-code 503|14]
//
// One JSON line per accepted request is appended to FILE:
//   {"signal":"traces"|"metrics","transport":"http"|"http/json"|"grpc",
//    "headers":{...},"body":<message.toJSON(): longs as strings>}
// For --fail-for seconds after start, requests are refused and not
// recorded: HTTP with --fail-code when it is an HTTP status (default 503),
// gRPC with --fail-code when it is a gRPC status (default 14 UNAVAILABLE).
// Prints "ready" on stdout once both listeners are up.
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const grpc = require('@grpc/grpc-js');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const pb = root.opentelemetry.proto.collector;
const SIGNALS = {
  traces: {
    httpPath: '/v1/traces',
    grpcPath: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    req: pb.trace.v1.ExportTraceServiceRequest,
    resp: pb.trace.v1.ExportTraceServiceResponse,
  },
  metrics: {
    httpPath: '/v1/metrics',
    grpcPath: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
    req: pb.metrics.v1.ExportMetricsServiceRequest,
    resp: pb.metrics.v1.ExportMetricsServiceResponse,
  },
};

function parseArgs(argv) {
  const o = { httpPort: 4318, grpcPort: 4317, out: null, failFor: 0,
    failCode: null };
  for (let i = 2; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--http-port': o.httpPort = Number(v); i++; break;
      case '--grpc-port': o.grpcPort = Number(v); i++; break;
      case '--out': o.out = v; i++; break;
      case '--fail-for': o.failFor = Number(v); i++; break;
      case '--fail-code': o.failCode = Number(v); i++; break;
      default:
        process.stderr.write(`receiver: unknown argument ${argv[i]}\n`);
        process.exit(2);
    }
  }
  if (!o.out) {
    process.stderr.write('receiver: --out FILE is required\n');
    process.exit(2);
  }
  return o;
}

const opts = parseArgs(process.argv);
const started = Date.now();
const failing = () => Date.now() - started < opts.failFor * 1000;
const httpFailStatus = opts.failCode >= 100 ? opts.failCode : 503;
const grpcFailStatus = opts.failCode !== null && opts.failCode < 100 ?
  opts.failCode : grpc.status.UNAVAILABLE;

function record(signal, transport, headers, msg) {
  const line = JSON.stringify({ signal, transport, headers,
    body: msg.toJSON() });
  fs.appendFileSync(opts.out, line + '\n');
}

// ---- OTLP/HTTP

// OTLP/JSON: the protobuf JSON mapping, but trace and span ids in hex;
// refused (400) when it is not valid JSON or an id is not hex.
function fromOtlpJson(type, body) {
  const obj = JSON.parse(body.toString('utf8'));
  const ids = (o) => {
    if (Array.isArray(o)) { o.forEach(ids); return; }
    if (o === null || typeof o !== 'object') return;
    for (const k of Object.keys(o)) {
      if (['traceId', 'spanId', 'parentSpanId'].includes(k)) {
        if (!/^([0-9a-f]{2})*$/.test(o[k]))
          throw new Error(`${k} is not hex: ${o[k]}`);
        o[k] = Buffer.from(o[k], 'hex').toString('base64');
      } else {
        ids(o[k]);
      }
    }
  };
  ids(obj);
  return type.fromObject(obj);
}

function answer(res, status, type, body) {
  res.writeHead(status, { 'content-type': type,
    'content-length': body.length });
  res.end(body);
}

function onHttpRequest(req, res) {
  const sig = Object.keys(SIGNALS).find(
    (k) => SIGNALS[k].httpPath === req.url);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || !sig)
      return answer(res, 404, 'text/plain', Buffer.from('not found\n'));
    if (failing()) {
      res.setHeader('retry-after', '1');
      return answer(res, httpFailStatus, 'text/plain',
        Buffer.from('failing on purpose\n'));
    }
    let body = Buffer.concat(chunks);
    let msg;
    const json = /application\/json/i.test(req.headers['content-type'] || '');
    try {
      if (/gzip/i.test(req.headers['content-encoding'] || ''))
        body = zlib.gunzipSync(body);
      msg = json ? fromOtlpJson(SIGNALS[sig].req, body) :
        SIGNALS[sig].req.decode(body);
    } catch (e) {
      return answer(res, 400, 'text/plain', Buffer.from(`${e.message}\n`));
    }
    record(sig, json ? 'http/json' : 'http', req.headers, msg);
    if (json)
      return answer(res, 200, 'application/json', Buffer.from('{}'));
    const out = SIGNALS[sig].resp.encode({}).finish();
    answer(res, 200, 'application/x-protobuf', Buffer.from(out));
  });
}

// ---- OTLP/gRPC: generic definitions around the generated codec

function grpcService(sig) {
  const s = SIGNALS[sig];
  return {
    Export: {
      path: s.grpcPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m) => Buffer.from(s.req.encode(m).finish()),
      requestDeserialize: (b) => s.req.decode(b),
      responseSerialize: (m) => Buffer.from(s.resp.encode(m).finish()),
      responseDeserialize: (b) => s.resp.decode(b),
    },
  };
}

function grpcHandler(sig) {
  return {
    Export: (call, cb) => {
      if (failing())
        return cb({ code: grpcFailStatus, details: 'failing on purpose' });
      const headers = {};
      for (const [k, v] of Object.entries(call.metadata.getMap()))
        headers[k] = Buffer.isBuffer(v) ? v.toString('base64') : v;
      record(sig, 'grpc', headers, call.request);
      cb(null, SIGNALS[sig].resp.create({}));
    },
  };
}

let pending = 2;
function listening() {
  if (--pending === 0)
    process.stdout.write('ready\n');
}

const httpServer = http.createServer(onHttpRequest);
httpServer.listen(opts.httpPort, '127.0.0.1', listening);

const grpcServer = new grpc.Server();
grpcServer.addService(grpcService('traces'), grpcHandler('traces'));
grpcServer.addService(grpcService('metrics'), grpcHandler('metrics'));
grpcServer.bindAsync(`127.0.0.1:${opts.grpcPort}`,
  grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      process.stderr.write(`receiver: grpc bind: ${err.message}\n`);
      process.exit(1);
    }
    listening();
  });

function stop() {
  httpServer.close();
  grpcServer.forceShutdown();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

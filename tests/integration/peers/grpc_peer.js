// A gRPC server or client for the integration tests, on @grpc/grpc-js
// (installed in tests/otlp: npm ci).  The same service as grpc_peer.py,
// messages as raw bytes, so the two interoperate:
//   node grpc_peer.js server PORT
//   node grpc_peer.js client PORT CALLS...   CALL = Say:WORD:N or Count:K:N
// With SG_GRPC_TLS_CERT (and, for the server, SG_GRPC_TLS_KEY) set: over
// TLS with that certificate (the client trusts it).
'use strict';
const fs = require('fs');
const path = require('path');
// SG_GRPC_JS: where @grpc/grpc-js is, for a copy of this script elsewhere
const grpc = require(process.env.SG_GRPC_JS ||
  path.join(__dirname, '../../otlp/node_modules/@grpc/grpc-js'));

const SERVICE = 'spyglass.test.Echo';
const raw = { serialize: (b) => b, deserialize: (b) => b };
const methods = {
  Say: {
    path: `/${SERVICE}/Say`, requestStream: false, responseStream: false,
    requestSerialize: raw.serialize, requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize, responseDeserialize: raw.deserialize,
  },
  Count: {
    path: `/${SERVICE}/Count`, requestStream: false, responseStream: true,
    requestSerialize: raw.serialize, requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize, responseDeserialize: raw.deserialize,
  },
};

function serve(port) {
  const server = new grpc.Server();
  server.addService(methods, {
    Say(call, cb) {
      const word = call.request.toString();
      if (word === 'missing') return cb({ code: grpc.status.NOT_FOUND, details: 'no such word' });
      if (word === 'down') return cb({ code: grpc.status.UNAVAILABLE, details: 'try later' });
      cb(null, Buffer.from('said:' + word));
    },
    Count(call) {
      const n = parseInt(call.request.toString(), 10);
      for (let i = 0; i < n; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
  });
  const creds = process.env.SG_GRPC_TLS_CERT ? grpc.ServerCredentials.createSsl(null, [{
    cert_chain: fs.readFileSync(process.env.SG_GRPC_TLS_CERT),
    private_key: fs.readFileSync(process.env.SG_GRPC_TLS_KEY),
  }]) : grpc.ServerCredentials.createInsecure();
  server.bindAsync(`127.0.0.1:${port}`, creds, (err) => {
    if (err) { console.error(err.message); process.exit(1); }
    console.log('listening');
  });
}

function one(client, method, arg) {
  return new Promise((resolve) => {
    const m = methods[method];
    if (m.responseStream) {
      let n = 0;
      const call = client.makeServerStreamRequest(m.path, m.requestSerialize,
        m.responseDeserialize, Buffer.from(arg));
      call.on('data', () => { n++; });
      call.on('error', (e) => resolve(grpc.status[e.code]));
      call.on('status', (s) => {
        if (s.code === grpc.status.OK) resolve(n === parseInt(arg, 10) ? 'OK' : 'SHORT');
      });
    } else {
      client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize,
        Buffer.from(arg), (e) => resolve(e ? grpc.status[e.code] : 'OK'));
    }
  });
}

async function callAll(port, calls) {
  const creds = process.env.SG_GRPC_TLS_CERT ?
    grpc.credentials.createSsl(fs.readFileSync(process.env.SG_GRPC_TLS_CERT)) :
    grpc.credentials.createInsecure();
  const client = new grpc.Client(`127.0.0.1:${port}`, creds);
  const results = new Map();
  for (const spec of calls) {
    const [method, arg, n] = spec.split(':');
    for (let i = 0; i < parseInt(n, 10); i++) {
      const key = `${method} ${await one(client, method, arg)}`;
      results.set(key, (results.get(key) || 0) + 1);
    }
  }
  client.close();
  for (const key of [...results.keys()].sort()) console.log(key, results.get(key));
}

const [mode, port, ...calls] = process.argv.slice(2);
if (mode === 'server' && port) serve(parseInt(port, 10));
else if (mode === 'client' && port && calls.length) callAll(parseInt(port, 10), calls);
else { console.error('usage: grpc_peer.js server PORT | client PORT CALLS...'); process.exit(2); }

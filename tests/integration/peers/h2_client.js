// An HTTP/2 client over TLS (ALPN h2) on node's own OpenSSL: N requests
// on one session, GET /ok and GET /missing in turn.
// Usage: node h2_client.js PORT N; prints {"status": count}.
'use strict';
const http2 = require('http2');
const [port, n] = [parseInt(process.argv[2]), parseInt(process.argv[3] || '10')];
const s = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
const seen = {};
let done = 0;
for (let i = 0; i < n; i++) {
  const r = s.request({ ':path': i % 2 ? '/missing' : '/ok' });
  r.on('response', h => { seen[h[':status']] = (seen[h[':status']] || 0) + 1; });
  r.resume();
  r.on('end', () => { if (++done === n) { s.close(); console.log(JSON.stringify(seen)); } });
  r.end();
}

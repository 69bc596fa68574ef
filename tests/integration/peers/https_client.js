// An https client on node's own (static) OpenSSL: N GET /ok on one
// keep-alive connection, then N GET /missing on a new connection each.
// Usage: node https_client.js PORT N; prints {"status": count}.
'use strict';
const https = require('https');
const [port, n] = [parseInt(process.argv[2]), parseInt(process.argv[3] || '10')];
const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
function get(path, a) {
  return new Promise((res, rej) => {
    https.get({ host: '127.0.0.1', port, path, agent: a, rejectUnauthorized: false }, r => {
      r.resume(); r.on('end', () => res(r.statusCode));
    }).on('error', rej);
  });
}
(async () => {
  const seen = {};
  for (let i = 0; i < n; i++) { const s = await get('/ok', agent); seen[s] = (seen[s] || 0) + 1; }
  for (let i = 0; i < n; i++) { const s = await get('/missing', false); seen[s] = (seen[s] || 0) + 1; }
  agent.destroy();
  console.log(JSON.stringify(seen));
})();

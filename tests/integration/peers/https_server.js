// An HTTPS server on node's own (static) OpenSSL: GET /ok answers 200,
// anything else 404.  Usage: node https_server.js PORT CERT KEY
'use strict';
const fs = require('fs');
const https = require('https');
const [port, cert, key] = [parseInt(process.argv[2]), process.argv[3], process.argv[4]];
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(req.url === '/ok' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/ok' ? 'ok\n' : 'no\n');
  });
}).listen(port, '127.0.0.1', () => console.log('listening'));

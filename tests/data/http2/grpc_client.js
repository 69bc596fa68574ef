// gRPC client for the recordings, with @grpc/grpc-js: on one connection,
// Say("hello"), Stream(3), Say("missing"); prints each call's method and
// status code as the library reports them.
//
//     NODE_PATH=DIR/node_modules node grpc_client.js PORT
'use strict';
const grpc = require('@grpc/grpc-js');

const client = new grpc.Client('127.0.0.1:' + process.argv[2],
    grpc.credentials.createInsecure());
const id = (b) => b;

function say(msg) {
	return new Promise((resolve) => {
		client.makeUnaryRequest('/spyglass.test.Echo/Say', id, id,
		    Buffer.from(msg, 'binary'), (err) => {
			console.log('/spyglass.test.Echo/Say', err ? err.code : 0);
			resolve();
		});
	});
}

function stream(n) {
	return new Promise((resolve) => {
		let got = 0;
		const call = client.makeServerStreamRequest(
		    '/spyglass.test.Echo/Stream', id, id,
		    Buffer.from([0x08, n]));
		call.on('data', () => { got++; });
		call.on('status', (s) => {
			console.log('/spyglass.test.Echo/Stream', s.code,
			    'messages', got);
			resolve();
		});
		call.on('error', () => {});
	});
}

(async () => {
	await say('\x0a\x05hello');
	await stream(3);
	await say('\x0a\x07missing');
	client.close();
})();

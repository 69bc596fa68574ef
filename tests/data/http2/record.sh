#!/bin/bash
# Records the HTTP/2 conversations of tests/data/http2 (see README): real
# peers on loopback, each connection through recproxy.py.  Needs nginx,
# curl, h2load (nghttp2-client), /usr/bin/python3 with grpcio, and node
# with @grpc/grpc-js in $NODE_PATH.  Ports 18520-18529; stops only what
# it started.
#
#     NODE_PATH=/tmp/npm/node_modules tests/data/http2/record.sh OUTDIR
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: record.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
PIDS=()
NGINX=18521
GRPC=18523
PROXY=18522

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -f "$WORK/nginx.pid" ]; then
		kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
	fi
	sleep 0.3
	rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
	for _ in $(seq 50); do
		# listening, without connecting (the proxy counts connections)
		if [ -n "$(ss -ltnH "sport = :$1")" ]; then return 0; fi
		sleep 0.1
	done
	echo "port $1 did not open" >&2
	return 1
}

# proxy NAME COUNT: records COUNT connections as NAME-N.rec
proxy() {
	/usr/bin/python3 "$HERE/recproxy.py" "$PROXY" "$3" "$OUT" "$1" "$2" &
	PROXY_PID=$!
	PIDS+=("$PROXY_PID")
	wait_port "$PROXY"
}

proxy_done() {
	wait "$PROXY_PID"
}

# ---- nginx, h2c
mkdir -p "$WORK/tmp"
cat > "$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $WORK/tmp;
	proxy_temp_path $WORK/tmp;
	fastcgi_temp_path $WORK/tmp;
	uwsgi_temp_path $WORK/tmp;
	scgi_temp_path $WORK/tmp;
	server {
		listen 127.0.0.1:$NGINX http2;
		location = /ok { return 200 "ok\n"; }
		location = /items { return 201 "created\n"; }
		location / { return 404; }
	}
}
EOF
nginx -p "$WORK" -e "$WORK/error.log" -c "$WORK/nginx.conf"
wait_port "$NGINX"

# curl: three connections, a request each (curl 7.88.1 does not reuse a
# prior-knowledge HTTP/2 connection: exit 16): GET 200, GET 404, POST 201
proxy curl-nginx 3 "$NGINX"
W='%{http_version} %{method} %{url_effective} %{http_code}\n'
for args in "http://127.0.0.1:$PROXY/ok?x=1" "http://127.0.0.1:$PROXY/missing" \
    "-d name=spyglass http://127.0.0.1:$PROXY/items"; do
	# shellcheck disable=SC2086  # args holds words
	curl -s -o /dev/null -w "$W" --http2-prior-knowledge $args
done > "$OUT/curl-nginx.out"
proxy_done

# h2load: 200 requests on 2 connections, 10 streams at a time
proxy h2load-nginx 2 "$NGINX"
h2load -n 200 -c 2 -m 10 "http://127.0.0.1:$PROXY/ok" > "$OUT/h2load-nginx.out"
proxy_done

# ---- gRPC: python server, python and node clients
/usr/bin/python3 "$HERE/grpc_server.py" "$GRPC" &
PIDS+=("$!")
wait_port "$GRPC"
proxy grpc-python 1 "$GRPC"
/usr/bin/python3 "$HERE/grpc_client.py" "$PROXY" > "$OUT/grpc-python.out"
proxy_done
proxy grpc-node 1 "$GRPC"
node "$HERE/grpc_client.js" "$PROXY" > "$OUT/grpc-node.out"
proxy_done
ls -l "$OUT"

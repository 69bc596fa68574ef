# Listens on a plain port (that is how it is selected), waits for a line
# on stdin, makes N GET /ok on one keep-alive connection, closes it and
# exits at once.  Usage: last_words.py LISTEN_PORT SERVER_PORT N
import http.client, socket, sys
lport, sport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen()
print("listening", flush=True)
sys.stdin.readline()
c = http.client.HTTPConnection("127.0.0.1", sport, timeout=10)
ok = 0
for _ in range(n):
    c.request("GET", "/ok"); r = c.getresponse(); r.read(); ok += r.status == 200
c.close()
print("ok", ok, flush=True)

# Listens on a plain port (that is how it is selected), imports ssl only
# when told (the first line on stdin), then (the second) makes N HTTPS
# requests with urllib (a connection each) and N on one http.client
# connection.  Usage: tls_late_client.py LISTEN_PORT TLS_PORT N
import socket, sys
lport, tport, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen()
print("listening", flush=True)
sys.stdin.readline()
assert "ssl" not in sys.modules and "_ssl" not in sys.modules
import ssl, urllib.request, urllib.error, http.client
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
print("imported", flush=True)
sys.stdin.readline()
seen = {}
for i in range(n):
    try:
        r = urllib.request.urlopen("https://127.0.0.1:%d/ok" % tport, context=ctx); r.read(); st = r.status
    except urllib.error.HTTPError as e:
        st = e.code
    seen[st] = seen.get(st, 0) + 1
c = http.client.HTTPSConnection("127.0.0.1", tport, context=ctx)
for i in range(n):
    c.request("GET", "/busy"); r = c.getresponse(); r.read(); seen[r.status] = seen.get(r.status, 0) + 1
c.close()
print(" ".join("%s:%s" % kv for kv in sorted(seen.items())), flush=True)

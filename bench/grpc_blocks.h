/*
 * HPACK header blocks of a gRPC request as a Go client sends the first and
 * the later calls of a connection (grpc-go/1.58.0, recorded), shared by
 * hpack_bench.c and http2_bench.c: :method POST, :scheme http, :path
 * /package.Service/Method, :authority localhost:50051, content-type
 * application/grpc, user-agent grpc-go/1.58.0, te trailers (indexed),
 * grpc-timeout 999937u (not).  String literals: sizeof - 1 is the length.
 */
#ifndef SG_BENCH_GRPC_BLOCKS_H
#define SG_BENCH_GRPC_BLOCKS_H

#define GRPC_GO_FIRST \
    "\x83\x86\x44\x91\x62\xb1\x93\xa8\xe6\x2a\xfb\x8b" \
    "\x67\x73\x10\xac\x68\x2a\x67\x3c\x9f\x41\x8b\xa0" \
    "\xe4\x1d\x13\x9d\x09\xb8\xd8\x00\xd8\x7f\x5f\x8b" \
    "\x1d\x75\xd0\x62\x0d\x26\x3d\x4c\x4d\x65\x64\x7a" \
    "\x8a\x9a\xca\xc8\xb4\xc7\x60\x2b\xb6\xf2\xe0\x40" \
    "\x82\x49\x7f\x86\x4d\x83\x35\x05\xb1\x1f\x00\x89" \
    "\x9a\xca\xc8\xb2\x4d\x49\x4f\x6a\x7f\x86\x7d\xf7" \
    "\xdf\x65\xdb\x7f"

/* The same request, the table holding what the first one added. */
#define GRPC_GO_LATER \
    "\x83\x86\xc2\xc1\xc0\xbf\xbe\x00\x89\x9a\xca\xc8" \
    "\xb2\x4d\x49\x4f\x6a\x7f\x86\x7d\xf7\xdf\x65\xdb" \
    "\x7f"

#endif

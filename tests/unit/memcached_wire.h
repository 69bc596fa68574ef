/* Generated from real captures (tests/data: the proxy logs); each
 * is one recv() of the peer's bytes. */
/* c1-00001-req */
static const char CP_SET_REQ[] =
	"set f1.txt 0 0 6\r\n"
	"hello\n"
	"\r\n";
/* c1-00002-resp */
static const char STORED_RESP[] =
	"STORED\r\n";
/* c1-00005-req */
static const char QUIT_REQ[] =
	"quit\r\n";
/* c2-00006-req */
static const char CAT_GET_REQ[] =
	"get f1.txt\r\n";
/* c2-00007-resp */
static const char CAT_GET_RESP[] =
	"VALUE f1.txt 0 6\r\n"
	"hello\n"
	"\r\n"
	"END\r\n";
/* c2-00010-req */
static const char MISS_REQ[] =
	"get nokey\r\n";
/* c2-00011-resp */
static const char END_RESP[] =
	"END\r\n";
/* c3-00013-req */
static const char RM_REQ[] =
	"delete f1.txt\r\n";
/* c3-00014-resp */
static const char DELETED_RESP[] =
	"DELETED\r\n";
/* c4-00016-req */
static const char RM_MISS_REQ[] =
	"delete nokey\r\n";
/* c4-00017-resp */
static const char NOT_FOUND_RESP[] =
	"NOT_FOUND\r\n";
/* c5-00019-req */
static const char EXIST_REQ[] =
	"add f2.txt 0 2678400 0\r\n"
	"\r\n";
/* c5-00020-resp */
static const char NOT_STORED_RESP[] =
	"NOT_STORED\r\n";
/* c6-00022-req */
static const char TOUCH_REQ[] =
	"touch f2.txt 0\r\n";
/* c6-00023-resp */
static const char TOUCHED_RESP[] =
	"TOUCHED\r\n";
/* c7-00025-req */
static const char VERSION_REQ[] =
	"version\r\n";
/* c7-00026-resp */
static const char VERSION_RESP[] =
	"VERSION 1.6.18\r\n";
/* c7-00027-req */
static const char STATS_REQ[] =
	"stats \r\n";
/* c7-00028-resp */
static const char STATS_RESP[] =
	"STAT pid 6802\r\n"
	"STAT uptime 41\r\n"
	"STAT time 1795688903\r\n"
	"STAT version 1.6.18\r\n"
	"STAT libevent 2.1.12-stable\r\n"
	"STAT pointer_size 64\r\n"
	"STAT rusage_user 0.017461\r\n"
	"STAT rusage_system 0.000000\r\n"
	"STAT max_connections 1024\r\n"
	"STAT curr_connections 1\r\n"
	"STAT total_connections 8\r\n"
	"STAT rejected_connections 0\r\n"
	"STAT connection_structures 2\r\n"
	"STAT response_obj_oom 0\r\n"
	"STAT response_obj_count 1\r\n"
	"STAT response_obj_bytes 65536\r\n"
	"STAT read_buf_count 8\r\n"
	"STAT read_buf_bytes 131072\r\n"
	"STAT read_buf_bytes_free 49152\r\n"
	"STAT read_buf_oom 0\r\n"
	"STAT reserved_fds 20\r\n"
	"STAT cmd_get 3\r\n"
	"STAT cmd_set 3\r\n"
	"STAT cmd_flush 0\r\n"
	"STAT cmd_touch 1\r\n"
	"STAT cmd_meta 0\r\n"
	"STAT get_hits 2\r\n"
	"STAT get_misses 1\r\n"
	"STAT get_expired 0\r\n"
	"STAT get_flushed 0\r\n"
	"STAT delete_misses 1\r\n"
	"STAT delete_hits 1\r\n"
	"STAT incr_misses 0\r\n"
	"STAT incr_hits 0\r\n"
	"STAT decr_misses 0\r\n"
	"STAT decr_hits 0\r\n"
	"STAT cas_misses 0\r\n"
	"STAT cas_hits 0\r\n"
	"STAT cas_badval 0\r\n"
	"STAT touch_hits 1\r\n"
	"STAT touch_misses 0\r\n"
	"STAT store_too_large 0\r\n"
	"STAT store_no_memory 0\r\n"
	"STAT auth_cmds 0\r\n"
	"STAT auth_errors 0\r\n"
	"STAT bytes_read 211\r\n"
	"STAT bytes_written 140\r\n"
	"STAT limit_maxbytes 67108864\r\n"
	"STAT accepting_conns 1\r\n"
	"STAT listen_disabled_num 0\r\n"
	"STAT time_in_listen_disabled_us 0\r\n"
	"STAT threads 4\r\n"
	"STAT conn_yields 0\r\n"
	"STAT hash_power_level 16\r\n"
	"STAT hash_bytes 524288\r\n"
	"STAT hash_is_expanding 0\r\n"
	"STAT slab_reassign_rescues 0\r\n"
	"STAT slab_reassign_chunk_rescues 0\r\n"
	"STAT slab_reassign_evictions_nomem 0\r\n"
	"STAT slab_reassign_inline_reclaim 0\r\n"
	"STAT slab_reassign_busy_items 0\r\n"
	"STAT slab_reassign_busy_deletes 0\r\n"
	"STAT slab_reassign_running 0\r\n"
	"STAT slabs_moved 0\r\n"
	"STAT lru_crawler_running 0\r\n"
	"STAT lru_crawler_starts 1\r\n"
	"STAT lru_maintainer_juggles 91\r\n"
	"STAT malloc_fails 0\r\n"
	"STAT log_worker_dropped 0\r\n"
	"STAT log_worker_written 0\r\n"
	"STAT log_watcher_skipped 0\r\n"
	"STAT log_watcher_sent 0\r\n"
	"STAT log_watchers 0\r\n"
	"STAT unexpected_napi_ids 0\r\n"
	"STAT round_robin_fallback 0\r\n"
	"STAT bytes 71\r\n"
	"STAT curr_items 1\r\n"
	"STAT total_items 2\r\n"
	"STAT slab_global_page_pool 0\r\n"
	"STAT expired_unfetched 0\r\n"
	"STAT evicted_unfetched 0\r\n"
	"STAT evicted_active 0\r\n"
	"STAT evictions 0\r\n"
	"STAT reclaimed 0\r\n"
	"STAT crawler_reclaimed 0\r\n"
	"STAT crawler_items_checked 0\r\n"
	"STAT lrutail_reflocked 0\r\n"
	"STAT moves_to_cold 0\r\n"
	"STAT moves_to_warm 0\r\n"
	"STAT moves_within_lru 0\r\n"
	"STAT direct_reclaims 0\r\n"
	"STAT lru_bumps_dropped 0\r\n"
	"END\r\n";
/* c8-00030-req */
static const char FLUSH_REQ[] =
	"flush_all \r\n";
/* c8-00031-resp */
static const char OK_RESP[] =
	"OK\r\n";
/* c9-00033-req */
static const char MULTI_REQ[] =
	"set k1 0 0 5\r\n"
	"hello\r\n"
	"set k2 0 0 3\r\n"
	"abc\r\n"
	"get k1 k2 k3\r\n"
	"gets k1\r\n";
/* c9-00034-resp */
static const char MULTI_RESP[] =
	"STORED\r\n"
	"STORED\r\n"
	"VALUE k1 0 5\r\n"
	"hello\r\n"
	"VALUE k2 0 3\r\n"
	"abc\r\n"
	"END\r\n"
	"VALUE k1 0 5 4\r\n"
	"hello\r\n"
	"END\r\n";
/* c10-00035-req */
static const char STORE_REQ[] =
	"add k1 0 0 1\r\n"
	"x\r\n"
	"replace k9 0 0 1\r\n"
	"x\r\n"
	"append k1 0 0 1\r\n"
	"!\r\n"
	"prepend k1 0 0 1\r\n"
	"<\r\n"
	"cas k1 0 0 1 999\r\n"
	"z\r\n";
/* c10-00036-resp */
static const char STORE_RESP[] =
	"NOT_STORED\r\n"
	"NOT_STORED\r\n"
	"STORED\r\n"
	"STORED\r\n"
	"EXISTS\r\n";
/* c11-00037-req */
static const char ARITH_REQ[] =
	"incr n 1\r\n"
	"set n 0 0 1\r\n"
	"5\r\n"
	"incr n 3\r\n"
	"decr n 1\r\n"
	"delete n\r\n"
	"delete n\r\n"
	"touch k1 100\r\n"
	"gat 100 k1 k2\r\n"
	"gats 100 k1\r\n";
/* c11-00038-resp */
static const char ARITH_RESP1[] =
	"NOT_FOUND\r\n"
	"STORED\r\n"
	"8\r\n"
	"7\r\n"
	"DELETED\r\n"
	"NOT_FOUND\r\n"
	"TOUCHED\r\n"
	"VALUE k1 0 7\r\n"
	"<hello!\r\n"
	"VALUE k2 0 3\r\n"
	"abc\r\n"
	"END\r\n";
/* c11-00039-resp */
static const char ARITH_RESP2[] =
	"VALUE k1 0 7 7\r\n"
	"<hello!\r\n"
	"END\r\n";
/* c12-00040-req */
static const char ERR_REQ[] =
	"bogus\r\n"
	"set k1 0 0 abc\r\n"
	"incr k1 1\r\n"
	"version\r\n"
	"verbosity 1\r\n";
/* c12-00041-resp */
static const char ERR_RESP[] =
	"ERROR\r\n"
	"CLIENT_ERROR bad command line format\r\n"
	"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
	"VERSION 1.6.18\r\n"
	"OK\r\n";
/* c13-00042-req */
static const char NOREPLY_REQ[] =
	"set nr 0 0 2 noreply\r\n"
	"hi\r\n"
	"delete nr noreply\r\n"
	"get nr\r\n";
/* c13-00043-resp */
static const char NOREPLY_RESP[] =
	"END\r\n";
/* c15-00046-req: 3040 bytes, the first 256 and the last 8 kept */
#define BIG_REQ_LEN 3040
static const char BIG_REQ[] =
	"set big 0 0 3000\r\n"
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
static const char BIG_REQ_TAIL[] =
	"sh_all\r\n";
/* c15-00047-resp: 3037 bytes, the first 256 and the last 8 kept */
#define BIG_RESP_LEN 3037
static const char BIG_RESP[] =
	"STORED\r\n"
	"VALUE big 0 3000\r\n"
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	"yyyyyyyyyyyyyyyyyyyyyyy";
static const char BIG_RESP_TAIL[] =
	"ND\r\n"
	"OK\r\n";
/* c16-00048-req */
static const char LONGKEY_REQ[] =
	"get kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\r\n";
/* c16-00049-resp */
static const char LONGKEY_RESP[] =
	"CLIENT_ERROR bad command line format\r\n";
/* c18-00052-req: 3861 bytes, the first 256 and the last 8 kept */
#define SLAP_REQ_LEN 3861
static const char SLAP_REQ[] =
	"set IvYF1YJg6ybrdGLeiI8H51h9gxJ2jsLDMPKn1XpQFdQJn34fPjnaYR4 0 0 3789\r"
	"\n"
	"IvYF1YJg6ybrdGLeiI8H51h9gxJ2jsLDMPKn1XpQFdQJn34fPjnaYR4IvYF1YJg6ybrdG"
	"LeiI8H51h9gxJ2jsLDMPKn1XpQFdQJn34fPjnaYR4IvYF1YJg6ybrdGLeiI8H51h9gxJ2"
	"jsLDMPKn1XpQFdQJn34fPjnaYR4IvYF1YJg6ybrdGLeiI8H5";
static const char SLAP_REQ_TAIL[] =
	"Jn34fP\r\n";
/* c18-00053-resp */
static const char SLAP_RESP[] =
	"STORED\r\n";

/*
 * libcurl, loaded only when OTLP export is configured.  libcurl and what
 * it pulls in (OpenSSL, GnuTLS, Kerberos, libssh2, p11-kit...) and
 * OpenSSL's initialisation cost about 8 MiB of resident memory, wasted
 * when only the Prometheus endpoint is served.  So spyglass-exporter is
 * not linked with libcurl: these definitions stand in for the libcurl
 * functions otlp_send.c calls and forward to the library, which
 * curl_global_init() opens.  The exporter calls it before its sandbox,
 * while files can still be opened, and only when started with -O.
 *
 * Linked into spyglass-exporter only: the unit tests link libcurl itself.
 */
/* The type-checking macros would rename the definitions below. */
#define CURL_DISABLE_TYPECHECK

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"

#define CURL_LAZY_SONAME "libcurl.so.4"

#define CURL_LAZY_SYMS(X) \
	X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) \
	X(curl_easy_perform) X(curl_easy_setopt) X(curl_easy_strerror) \
	X(curl_free) X(curl_global_init) X(curl_slist_append) \
	X(curl_slist_free_all) X(curl_url) X(curl_url_cleanup) \
	X(curl_url_get) X(curl_url_set) X(curl_version_info)
#define CURL_LAZY_ENUM(f) CL_##f,
#define CURL_LAZY_NAME(f) #f,

enum curl_lazy_sym { CURL_LAZY_SYMS(CURL_LAZY_ENUM) CL_NSYMS };

static const char *const curl_lazy_names[] = {
	CURL_LAZY_SYMS(CURL_LAZY_NAME)
};
/* Written once, before the sender threads exist. */
static void *curl_lazy_fns[CL_NSYMS];
static bool curl_lazy_loaded;

/* For va_arg: callbacks are passed as function pointers. */
typedef void (*curl_lazy_cb)(void);

static int
curl_lazy_load(void)
{
	void *h, *fns[CL_NSYMS];

	if (curl_lazy_loaded)
		return 0;
	if ((h = dlopen(CURL_LAZY_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		sg_log(SG_LOG_ERR, "otlp: cannot load libcurl: %s", dlerror());
		return -1;
	}
	for (int i = 0; i < CL_NSYMS; i++) {
		if ((fns[i] = dlsym(h, curl_lazy_names[i])) == NULL) {
			sg_log(SG_LOG_ERR, "otlp: %s lacks %s: %s",
			    CURL_LAZY_SONAME, curl_lazy_names[i], dlerror());
			dlclose(h);
			return -1;
		}
	}
	memcpy(curl_lazy_fns, fns, sizeof(fns));
	curl_lazy_loaded = true;
	return 0;
}

/* A call before curl_global_init() loaded the library is a bug, except
 * freeing NULL (libcurl allows it, error paths do it) and
 * curl_easy_strerror(). */
static void *
curl_lazy_fn(enum curl_lazy_sym i)
{
	if (!curl_lazy_loaded)
		sg_fatal("otlp: %s called while libcurl is not loaded "
		    "(curl_global_init first)", curl_lazy_names[i]);
	return curl_lazy_fns[i];
}

CURLcode
curl_global_init(long flags)
{
	CURLcode (*f)(long);

	if (curl_lazy_load() < 0)
		return CURLE_FAILED_INIT;
	f = curl_lazy_fn(CL_curl_global_init);
	return f(flags);
}

const char *
curl_easy_strerror(CURLcode rc)
{
	const char *(*f)(CURLcode);

	/* Also describes a curl_global_init() that could not load it. */
	if (!curl_lazy_loaded)
		return "libcurl is not loaded";
	f = curl_lazy_fn(CL_curl_easy_strerror);
	return f(rc);
}

curl_version_info_data *
curl_version_info(CURLversion v)
{
	curl_version_info_data *(*f)(CURLversion);

	f = curl_lazy_fn(CL_curl_version_info);
	return f(v);
}

CURL *
curl_easy_init(void)
{
	CURL *(*f)(void);

	f = curl_lazy_fn(CL_curl_easy_init);
	return f();
}

void
curl_easy_cleanup(CURL *c)
{
	void (*f)(CURL *);

	if (c == NULL)
		return;
	f = curl_lazy_fn(CL_curl_easy_cleanup);
	f(c);
}

/*
 * The option number says what the argument is (CURLOPTTYPE_* in
 * curl.h): it must be read from our va_list as that type to be passed on.
 */
CURLcode
curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	CURLcode (*f)(CURL *, CURLoption, ...);
	va_list ap;
	CURLcode rc;

	f = curl_lazy_fn(CL_curl_easy_setopt);
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = f(c, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = f(c, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = f(c, opt, va_arg(ap, curl_lazy_cb));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = f(c, opt, va_arg(ap, curl_off_t));
	else
		rc = f(c, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every CURLINFO type takes one pointer to where the answer goes. */
CURLcode
curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	CURLcode (*f)(CURL *, CURLINFO, ...);
	va_list ap;
	CURLcode rc;

	f = curl_lazy_fn(CL_curl_easy_getinfo);
	va_start(ap, info);
	rc = f(c, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_perform(CURL *c)
{
	CURLcode (*f)(CURL *);

	f = curl_lazy_fn(CL_curl_easy_perform);
	return f(c);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	struct curl_slist *(*f)(struct curl_slist *, const char *);

	f = curl_lazy_fn(CL_curl_slist_append);
	return f(l, s);
}

void
curl_slist_free_all(struct curl_slist *l)
{
	void (*f)(struct curl_slist *);

	if (l == NULL)
		return;
	f = curl_lazy_fn(CL_curl_slist_free_all);
	f(l);
}

void
curl_free(void *p)
{
	void (*f)(void *);

	if (p == NULL)
		return;
	f = curl_lazy_fn(CL_curl_free);
	f(p);
}

CURLU *
curl_url(void)
{
	CURLU *(*f)(void);

	f = curl_lazy_fn(CL_curl_url);
	return f();
}

void
curl_url_cleanup(CURLU *u)
{
	void (*f)(CURLU *);

	if (u == NULL)
		return;
	f = curl_lazy_fn(CL_curl_url_cleanup);
	f(u);
}

CURLUcode
curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	CURLUcode (*f)(CURLU *, CURLUPart, char **, unsigned int);

	f = curl_lazy_fn(CL_curl_url_get);
	return f(u, what, part, flags);
}

CURLUcode
curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	CURLUcode (*f)(CURLU *, CURLUPart, const char *, unsigned int);

	f = curl_lazy_fn(CL_curl_url_set);
	return f(u, what, part, flags);
}

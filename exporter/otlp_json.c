/*
 * Protobuf messages as OTLP JSON, generically, from their descriptors.
 */
#include "otlp_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 16   /* OTLP nests 6 deep; AnyValue may nest more */

static void json_message(FILE *f, const ProtobufCMessage *m, int depth);

/* A field name as the protobuf JSON mapping writes it: lowerCamelCase. */
static void
json_key(FILE *f, const char *name, bool *first)
{
	if (!*first)
		fputc(',', f);
	*first = false;
	fputc('"', f);
	for (const char *p = name; *p; p++) {
		if (*p == '_' && p[1] != '\0') {
			p++;
			fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, f);
		} else {
			fputc(*p, f);
		}
	}
	fputs("\":", f);
}

static void
json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Trace and span ids are hex in OTLP JSON; other bytes base64. */
static void
json_bytes(FILE *f, const char *field, const ProtobufCBinaryData *b)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	fputc('"', f);
	if (strcmp(field, "trace_id") == 0 || strcmp(field, "span_id") == 0 ||
	    strcmp(field, "parent_span_id") == 0) {
		for (size_t i = 0; i < b->len; i++)
			fprintf(f, "%02x", b->data[i]);
	} else {
		for (size_t i = 0; i < b->len; i += 3) {
			uint32_t v = (uint32_t)b->data[i] << 16;
			size_t n = b->len - i;

			if (n > 1)
				v |= (uint32_t)b->data[i + 1] << 8;
			if (n > 2)
				v |= b->data[i + 2];
			fputc(b64[v >> 18 & 63], f);
			fputc(b64[v >> 12 & 63], f);
			fputc(n > 1 ? b64[v >> 6 & 63] : '=', f);
			fputc(n > 2 ? b64[v & 63] : '=', f);
		}
	}
	fputc('"', f);
}

static void
json_double(FILE *f, double d)
{
	if (isnan(d))
		fputs("\"NaN\"", f);
	else if (isinf(d))
		fputs(d > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
	else
		fprintf(f, "%.17g", d);
}

/* The value at p of a field of type t (one element of a repeated one). */
static void
json_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *p,
    int depth)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		fprintf(f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(f, "\"%" PRId64 "\"", *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(f, "\"%" PRIu64 "\"", *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		json_double(f, *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		json_double(f, *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
		break;
	case PROTOBUF_C_TYPE_STRING:
		json_string(f, *(char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		json_bytes(f, fd->name, (const ProtobufCBinaryData *)p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		json_message(f, *(ProtobufCMessage *const *)p, depth + 1);
		break;
	}
}

static size_t
json_type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	default:
		return 4;
	}
}

/* Whether a singular proto3 field holds its default (then omitted). */
static bool
json_is_default(const ProtobufCFieldDescriptor *fd, const void *p)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;

		return s == NULL || *s == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)p == NULL;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0;
	default: {
		static const uint8_t zero[8];

		return memcmp(p, zero, json_type_size(fd->type)) == 0;
	}
	}
}

static void
json_message(FILE *f, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d;
	bool first = true;

	if (m == NULL || depth > JSON_DEPTH_MAX) {
		fputs("{}", f);
		return;
	}
	d = m->descriptor;
	fputc('{', f);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const char *base = (const char *)m;
		const void *p = base + fd->offset;

		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + fd->quantifier_offset);
			const char *arr = *(const char *const *)p;
			size_t sz = json_type_size(fd->type);

			if (n == 0)
				continue;
			json_key(f, fd->name, &first);
			fputc('[', f);
			for (size_t k = 0; k < n; k++) {
				if (k > 0)
					fputc(',', f);
				json_value(f, fd, arr + k * sz, depth);
			}
			fputc(']', f);
			continue;
		}
		if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(base + fd->quantifier_offset) !=
			    fd->id)
				continue;
		} else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL &&
		    fd->quantifier_offset != 0 &&
		    fd->type != PROTOBUF_C_TYPE_MESSAGE &&
		    fd->type != PROTOBUF_C_TYPE_STRING) {
			if (!*(const protobuf_c_boolean *)(base +
			    fd->quantifier_offset))
				continue;
		} else if (json_is_default(fd, p)) {
			continue;
		}
		json_key(f, fd->name, &first);
		json_value(f, fd, p, depth);
	}
	fputc('}', f);
}

int
otlp_json_pack(const ProtobufCMessage *m, uint8_t **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return -1;
	json_message(f, m, 0);
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		return -1;
	}
	*out = (uint8_t *)buf;
	*outlen = len;
	return 0;
}

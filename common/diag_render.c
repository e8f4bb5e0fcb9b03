#include "diag_render.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KEY_WIDTH	17	/* "firewall rules:" and a space or two */

const char *diag_phase_name(Fwfleet__Phase phase)
{
	switch (phase) {
	case FWFLEET__PHASE__PHASE_DOWNLOADING:	return "downloading";
	case FWFLEET__PHASE__PHASE_VERIFYING:	return "verifying";
	case FWFLEET__PHASE__PHASE_INSTALLING:	return "installing";
	case FWFLEET__PHASE__PHASE_DONE:	return "done";
	case FWFLEET__PHASE__PHASE_FAILED:	return "failed";
	default:				return "unknown";
	}
}

void diag_format_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	double v = (double)n;
	size_t u = 0;

	if (n < 1024) {
		fw_snprintf(buf, len, "%" PRIu64 " bytes", n);
		return;
	}
	for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]);
	    u++)
		v /= 1024;
	fw_snprintf(buf, len, "%.1f %s (%" PRIu64 " bytes)", v, units[u], n);
}

/* "12 s", "5 min", "3 h", "2 d": the largest unit that keeps it >= 2. */
static void format_span(int64_t s, char *buf, size_t len)
{
	if (s < 120)
		fw_snprintf(buf, len, "%" PRId64 " s", s);
	else if (s < 2 * 3600)
		fw_snprintf(buf, len, "%" PRId64 " min", s / 60);
	else if (s < 2 * 86400)
		fw_snprintf(buf, len, "%" PRId64 " h", s / 3600);
	else
		fw_snprintf(buf, len, "%" PRId64 " d", s / 86400);
}

/* UTC ISO-8601, or "" when t is 0 (not known). */
static void iso_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (len > 0)
		buf[0] = '\0';
	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

void diag_format_time(int64_t t, time_t now, char *buf, size_t len)
{
	char iso[32], span[32];
	int64_t d = t - (int64_t)now;

	iso_time(t, iso, sizeof(iso));
	if (iso[0] == '\0') {
		fw_snprintf(buf, len, "-");
		return;
	}
	format_span(d < 0 ? -d : d, span, sizeof(span));
	fw_snprintf(buf, len, d <= 0 ? "%s (%s ago)" : "%s (in %s)", iso,
	    span);
}

/* --- for people ---------------------------------------------------------- */

/* Prints "  key:   value" with value cleaned for the terminal. */
static void kv(FILE *f, const char *key, const char *value)
{
	char label[64], *clean = xstrdup(value != NULL ? value : "");

	fw_text_clean(clean, 0);
	fw_snprintf(label, sizeof(label), "%s:", key);
	fprintf(f, "  %-*s%s\n", KEY_WIDTH, label, clean[0] ? clean : "-");
	free(clean);
}

static void kv_fmt(FILE *f, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void kv_fmt(FILE *f, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	v = xvasprintf(fmt, ap);
	va_end(ap);
	kv(f, key, v);
	free(v);
}

/* An indented line under a key, cleaned. */
static void item(FILE *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void item(FILE *f, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	v = xvasprintf(fmt, ap);
	va_end(ap);
	fw_text_clean(v, 0);
	fprintf(f, "    %s\n", v);
	free(v);
}

static void text_header(FILE *f, const struct diag_entry *e)
{
	char *h;

	if (e->name != NULL && e->address != NULL &&
	    strcmp(e->name, e->address) != 0)
		h = xasprintf("%s (%s)", e->name, e->address);
	else
		h = xstrdup(e->name != NULL ? e->name :
		    e->address != NULL ? e->address : "engine");
	fw_text_clean(h, 0);
	fprintf(f, "%s\n", h);
	free(h);
}

static void text_identity(FILE *f, const Fwfleet__Diag *d, time_t now)
{
	char t[64], span[32];

	kv(f, "version", d->version);
	kv(f, "build", d->build);
	kv(f, "mode", d->mode);
	kv_fmt(f, "pid", "%" PRIu32, d->pid);
	format_span((int64_t)d->uptime_s, span, sizeof(span));
	iso_time((int64_t)now - (int64_t)d->uptime_s, t, sizeof(t));
	kv_fmt(f, "uptime", "%s (since %s)", span, t);
	kv(f, "state", d->state);
	kv(f, "job", d->job_id);
	kv(f, "session", d->session_id);
	kv(f, "node name", d->node_name);
	kv_fmt(f, "control port", "%" PRIu32, d->port);
	if (d->idle_timeout_s != 0 && strcmp(d->mode, "persistent") != 0)
		kv_fmt(f, "idle timeout", "%" PRIu32 " s", d->idle_timeout_s);
	kv(f, "work dir", d->workdir);
	if (d->state_dir[0] != '\0')
		kv(f, "state dir", d->state_dir);
	diag_format_time(d->last_seen_unix, now, t, sizeof(t));
	kv(f, "controller seen", t);
}

static void text_cert(FILE *f, const Fwfleet__Diag *d, time_t now)
{
	char t[64];

	kv(f, "cert subject", d->cert_subject);
	diag_format_time(d->cert_not_before_unix, now, t, sizeof(t));
	kv(f, "cert valid from", t);
	diag_format_time(d->cert_not_after_unix, now, t, sizeof(t));
	kv(f, "cert expires", t);
}

static void text_components(FILE *f, const Fwfleet__Diag *d)
{
	const Fwfleet__ComponentProgress *c;
	char done[64], total[64];
	size_t i;

	kv_fmt(f, "components", "%zu", d->n_components);
	for (i = 0; i < d->n_components; i++) {
		c = d->components[i];
		diag_format_bytes(c->bytes_done, done, sizeof(done));
		diag_format_bytes(c->bytes_total, total, sizeof(total));
		item(f, "%s %s: %s, %" PRIu32 "%%, %s of %s%s%s",
		    c->component_id, c->version, diag_phase_name(c->phase),
		    c->percent, done, total, c->error[0] ? ": " : "",
		    c->error);
	}
}

static void text_lists(FILE *f, const Fwfleet__Diag *d, time_t now)
{
	char t[64];
	size_t i;

	kv_fmt(f, "recent errors", "%zu", d->n_recent_errors);
	for (i = 0; i < d->n_recent_errors; i++) {
		diag_format_time(d->recent_errors[i]->time_unix, now, t,
		    sizeof(t));
		item(f, "%s: %s", t, d->recent_errors[i]->message);
	}
	kv_fmt(f, "firewall rules", "%zu", d->n_firewall_rules);
	for (i = 0; i < d->n_firewall_rules; i++)
		item(f, "%s", d->firewall_rules[i]);
}

void diag_render_text(FILE *f, const struct diag_entry *v, size_t n,
    time_t now)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc('\n', f);
		text_header(f, &v[i]);
		if (v[i].diag == NULL) {
			kv(f, "error", v[i].error != NULL ? v[i].error :
			    "no answer");
			continue;
		}
		text_identity(f, v[i].diag, now);
		text_cert(f, v[i].diag, now);
		text_components(f, v[i].diag);
		text_lists(f, v[i].diag, now);
	}
}

/* --- JSON ----------------------------------------------------------------- */

/* The short escape of an ASCII byte that has one, or NULL. */
static const char *json_short_escape(unsigned char c)
{
	switch (c) {
	case '"':	return "\\\"";
	case '\\':	return "\\\\";
	case '\n':	return "\\n";
	case '\r':	return "\\r";
	case '\t':	return "\\t";
	default:	return NULL;
	}
}

void diag_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *esc;
	size_t n;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *p != '\0'; p += n) {
		n = 1;
		if ((esc = json_short_escape(*p)) != NULL) {
			fputs(esc, f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
		} else if (*p < 0x80) {
			fputc(*p, f);
		} else if ((n = fw_utf8_seq_len(p)) == 0) {
			n = 1;
			fputs("\\ufffd", f);
		} else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
			fprintf(f, "\\u%04x", p[1]);	/* a C1 control */
		} else {
			fwrite(p, 1, n, f);
		}
	}
	fputc('"', f);
}

static void json_key(FILE *f, const char *key)
{
	fprintf(f, ",\"%s\":", key);
}

static void json_str(FILE *f, const char *key, const char *v)
{
	json_key(f, key);
	diag_json_string(f, v);
}

static void json_u64(FILE *f, const char *key, uint64_t v)
{
	fprintf(f, ",\"%s\":%" PRIu64, key, v);
}

/* KEY_unix, KEY (ISO-8601) and, when rel names one, how far from now
 * (seconds; positive: ago for "_ago_s", ahead for "_in_s"). */
static void json_time(FILE *f, const char *key, int64_t t, time_t now,
    const char *rel, int ago)
{
	char name[64], iso[32];

	iso_time(t, iso, sizeof(iso));
	fw_snprintf(name, sizeof(name), "%s_unix", key);
	if (t == 0) {
		fprintf(f, ",\"%s\":null,\"%s\":null", name, key);
		if (rel != NULL)
			fprintf(f, ",\"%s\":null", rel);
		return;
	}
	fprintf(f, ",\"%s\":%" PRId64 ",\"%s\":\"%s\"", name, t, key, iso);
	if (rel != NULL)
		fprintf(f, ",\"%s\":%" PRId64, rel,
		    ago ? (int64_t)now - t : t - (int64_t)now);
}

static void json_identity(FILE *f, const Fwfleet__Diag *d, time_t now)
{
	json_str(f, "version", d->version);
	json_str(f, "build", d->build);
	json_str(f, "mode", d->mode);
	json_u64(f, "pid", d->pid);
	json_u64(f, "uptime_s", d->uptime_s);
	json_str(f, "state", d->state);
	json_str(f, "job_id", d->job_id);
	json_str(f, "session_id", d->session_id);
	json_str(f, "node_name", d->node_name);
	json_u64(f, "port", d->port);
	json_u64(f, "idle_timeout_s", d->idle_timeout_s);
	json_str(f, "workdir", d->workdir);
	json_str(f, "state_dir", d->state_dir);
	json_time(f, "last_seen", d->last_seen_unix, now, "last_seen_ago_s",
	    1);
	json_str(f, "cert_subject", d->cert_subject);
	json_time(f, "cert_not_before", d->cert_not_before_unix, now, NULL, 0);
	json_time(f, "cert_not_after", d->cert_not_after_unix, now,
	    "cert_expires_in_s", 0);
}

static void json_components(FILE *f, const Fwfleet__Diag *d)
{
	const Fwfleet__ComponentProgress *c;
	size_t i;

	fputs(",\"components\":[", f);
	for (i = 0; i < d->n_components; i++) {
		c = d->components[i];
		fputs(i ? ",{\"id\":" : "{\"id\":", f);
		diag_json_string(f, c->component_id);
		json_str(f, "version", c->version);
		json_str(f, "phase", diag_phase_name(c->phase));
		json_u64(f, "percent", c->percent);
		json_u64(f, "bytes_done", c->bytes_done);
		json_u64(f, "bytes_total", c->bytes_total);
		json_str(f, "error", c->error);
		fputc('}', f);
	}
	fputc(']', f);
}

static void json_lists(FILE *f, const Fwfleet__Diag *d, time_t now)
{
	size_t i;

	fputs(",\"recent_errors\":[", f);
	for (i = 0; i < d->n_recent_errors; i++) {
		fputs(i ? ",{" : "{", f);
		/* json_time starts with a comma: lead with the message. */
		fputs("\"message\":", f);
		diag_json_string(f, d->recent_errors[i]->message);
		json_time(f, "time", d->recent_errors[i]->time_unix, now, NULL,
		    0);
		fputc('}', f);
	}
	fputs("],\"firewall_rules\":[", f);
	for (i = 0; i < d->n_firewall_rules; i++) {
		if (i > 0)
			fputc(',', f);
		diag_json_string(f, d->firewall_rules[i]);
	}
	fputc(']', f);
}

static void json_entry(FILE *f, const struct diag_entry *e, time_t now)
{
	fputs("{\"node\":", f);
	diag_json_string(f, e->name);
	json_str(f, "address", e->address);
	fprintf(f, ",\"ok\":%s", e->diag != NULL ? "true" : "false");
	json_str(f, "error", e->diag != NULL ? NULL :
	    e->error != NULL ? e->error : "no answer");
	if (e->diag != NULL) {
		json_identity(f, e->diag, now);
		json_components(f, e->diag);
		json_lists(f, e->diag, now);
	}
	fputc('}', f);
}

void diag_render_json(FILE *f, const struct diag_entry *v, size_t n,
    time_t now)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		fputs(i ? ",\n" : "\n", f);
		json_entry(f, &v[i], now);
	}
	fputs(n ? "\n]\n" : "]\n", f);
}

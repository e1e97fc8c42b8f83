/*-------------------------------------------------------------------------
 *
 * s3.c
 *		A client of S3-compatible object storage, for checkpoints written to
 *		s3://bucket/prefix: put an object from a file, get one into a file,
 *		list the objects under a prefix, delete one.  Nothing more: no
 *		multipart uploads (an object is one PUT, at most 5 GiB, S3's limit
 *		for one), no virtual-host buckets (the endpoint is path-style:
 *		ENDPOINT/bucket/key).
 *
 * HTTP is libcurl's, and so is the request signing (CURLOPT_AWS_SIGV4,
 * libcurl 7.75 and later): this file builds canonical URLs and the payload
 * hash S3 asks for (x-amz-content-sha256), libcurl signs.  Settings:
 * ivm.s3_endpoint, ivm.s3_region, ivm.s3_access_key_id,
 * ivm.s3_secret_access_key, ivm.s3_timeout (ivm.c); an empty setting is
 * taken from the server's environment (AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL, AWS_REGION or AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY).  The credentials go to libcurl and nowhere else:
 * no message of this file names them, libcurl's verbose output is off,
 * and an error's text from the storage service is dropped when it quotes
 * either.
 *
 * Failures: a request that could not connect, timed out, was cut short, or
 * was answered 5xx or 429 is tried again, up to S3_ATTEMPTS times, after
 * 250 ms, 500 ms, 1 s (waiting on the latch: a cancel ends the wait).  Any
 * other answer is final.  The error names the bucket and the key, the HTTP
 * status and the service's error code, never a credential.
 *
 * Interrupts: libcurl must never be left by longjmp (it would leak its
 * handle and could leave it in the middle of a call), so no ereport happens
 * while a transfer runs.  The progress callback only notes a pending cancel
 * or termination and makes libcurl abort the transfer; once
 * curl_easy_perform has returned and the handle is freed, the interrupt is
 * served with CHECK_FOR_INTERRUPTS.  The callbacks allocate with malloc
 * (a bounded response body) and never palloc.
 *
 * Memory: objects stream between files and the network; only an error's
 * XML or one page of a listing is held, at most S3_MAX_BODY bytes, and each
 * page is freed once read.  A listing keeps the names and sizes it found,
 * packed, at most S3_MAX_KEYS of them and S3_MAX_NAME_BYTES of names: a
 * prefix flooded with objects, or a service that never ends its listing,
 * makes it fail with a clear error instead of growing the backend.
 *
 * Layer: work, below the checkpoint files (ckptfile.c, full.c) that call
 * it.  Calls nothing of ivm but the settings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ivm.h"
#include "s3.h"

#if LIBCURL_VERSION_NUM < 0x074b00
#error "ivm needs libcurl 7.75 or later (CURLOPT_AWS_SIGV4)"
#endif

/* tries of one request, and the wait before the first retry (doubled each time) */
#define S3_ATTEMPTS			4
#define S3_FIRST_BACKOFF_MS	250
/* the most of a response body kept (a listing page, an error) */
#define S3_MAX_BODY			(16 * 1024 * 1024)

/*
 * The most objects a listing takes, and bytes of their names: past either,
 * the listing fails.  A checkpoint chain holds one manifest per checkpoint
 * and, per view, push source, seen-set or table, at most a base, its
 * IVM_CKPT_MAX_DELTAS (32) deltas and a pending-log file: 1,000,000 objects
 * is a checkpoint every 5 minutes for 9 years, or 30,000 objects at full
 * chains, while each checkpoint already lists it in 1,000 requests.  Names
 * of 20 bytes or so (00000123-0042.rows) take 20 MB at the most objects.
 */
#define S3_MAX_KEYS			1000000
#define S3_MAX_NAME_BYTES	(32 * 1024 * 1024)
/* names kept by a listing are packed into blocks of this size */
#define S3_NAME_BLOCK		(256 * 1024)
/* S3's limit for an object put in one request */
#define S3_MAX_PUT			((uint64) 5 * 1024 * 1024 * 1024)
/* the payload hash of an empty body */
#define S3_EMPTY_SHA256		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* what a request needs of the settings and the environment */
typedef struct S3Config
{
	char	   *endpoint;		/* scheme://host[:port][/path], no trailing '/' */
	char	   *region;
	const char *key_id;
	const char *secret;
} S3Config;

/* one request */
typedef struct S3Request
{
	const char *method;			/* GET, PUT, DELETE */
	const char *verb;			/* for messages: "upload", "download", ... */
	const char *key;			/* the object, or NULL for the bucket */
	const char *query;			/* canonical query string, or NULL */
	const char *upload;			/* PUT: the file to send */
	const char *download;		/* GET: the file to fill (2xx only) */
	const char *display;		/* for messages when key is NULL: s3://... */
} S3Request;

/*
 * What the callbacks share with the caller.  Filled while libcurl runs:
 * no palloc, no ereport.
 */
typedef struct S3Transfer
{
	CURL	   *curl;
	int			infd;			/* the file being uploaded, or -1 */
	int			outfd;			/* the file being downloaded into, or -1 */
	int			io_errno;		/* a read or write of a local file failed */
	bool		io_write;		/* ... and it was a write */
	bool		interrupted;	/* a cancel or termination is pending */
	char	   *body;			/* malloc'd: the response body (not a download) */
	size_t		bodylen;
	size_t		bodycap;
	bool		truncated;		/* the body was longer than S3_MAX_BODY */
} S3Transfer;

/* the result of the last try of a request */
typedef struct S3Result
{
	CURLcode	code;
	long		status;			/* HTTP status, 0 when none came */
	char		curlerr[CURL_ERROR_SIZE];
	char	   *body;			/* palloc'd copy, NUL-terminated */
	int			attempts;
} S3Result;

static bool curl_ready = false;

/* ------------------------------------------------------------------------
 * Names and URLs
 * ------------------------------------------------------------------------
 */

/*
 * IvmS3IsUrl
 *		Whether a checkpoint target names object storage.
 */
bool
IvmS3IsUrl(const char *target)
{
	return target != NULL && strncmp(target, IVM_S3_SCHEME, strlen(IVM_S3_SCHEME)) == 0;
}

/* a bucket name S3 could have: 3 to 63 of [a-z0-9.-] (and A-Z, _ some services allow) */
static bool
ValidBucket(const char *b)
{
	size_t		len = strlen(b);

	if (len < 3 || len > 63)
		return false;
	for (const char *p = b; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			return false;
	return true;
}

/*
 * IvmS3Parse
 *		s3://bucket/key: a bucket and a key (object: the key of one object,
 *		which must not be empty) or a prefix (trailing slashes dropped; empty
 *		for the whole bucket).  Keys are refused when a path would be read
 *		differently by the service: empty, "." or ".." segments, control
 *		characters.
 */
IvmS3Location *
IvmS3Parse(const char *url, bool object)
{
	IvmS3Location *loc = palloc0(sizeof(IvmS3Location));
	const char *rest = url + strlen(IVM_S3_SCHEME);
	const char *slash = strchr(rest, '/');
	char	   *key;
	size_t		len;

	Assert(IvmS3IsUrl(url));
	loc->bucket = slash ? pnstrdup(rest, slash - rest) : pstrdup(rest);
	key = pstrdup(slash ? slash + 1 : "");
	len = strlen(key);
	if (!object)
		while (len > 0 && key[len - 1] == '/')
			key[--len] = '\0';
	if (!ValidBucket(loc->bucket))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" does not name an object storage bucket", url),
				 errdetail("A bucket name is 3 to 63 letters, digits, dots and hyphens."),
				 errhint("Write s3://bucket/prefix, for example s3://backups/ivm/ckpt.")));
	if (object && (len == 0 || key[len - 1] == '/'))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" does not name an object", url),
				 errhint("Write s3://bucket/key, for example s3://backups/ivm/full.sql.")));
	if (len > 900)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the key of \"%s\" is too long", url),
				 errdetail("Object storage keys have at most 1024 bytes, and checkpoint files add their names to the prefix."),
				 errhint("Use a shorter prefix.")));
	if (len > 0)
	{
		char	   *copy = pstrdup(key);
		char	   *seg = copy;

		for (char *p = copy; *p; p++)
			if ((unsigned char) *p < 0x20 || *p == 0x7f)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the key of an object storage URL must not hold control characters")));
		for (;;)
		{
			char	   *end = strchr(seg, '/');

			if (end)
				*end = '\0';
			if (*seg == '\0' || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("\"%s\" has an empty, \".\" or \"..\" segment in its key", url),
						 errhint("Write the key without \"//\", \"/./\" or \"/../\".")));
			if (!end)
				break;
			seg = end + 1;
		}
	}
	loc->key = key;
	loc->url = psprintf("%s%s%s%s", IVM_S3_SCHEME, loc->bucket, len > 0 ? "/" : "", key);
	return loc;
}

/*
 * IvmS3Key
 *		The key of name inside the prefix loc names.
 */
char *
IvmS3Key(const IvmS3Location *loc, const char *name)
{
	if (loc->key[0] == '\0')
		return pstrdup(name);
	return psprintf("%s/%s", loc->key, name);
}

/* append s URI-encoded as S3 wants it: all but unreserved characters (and '/' when slash) */
static void
AppendEncoded(StringInfo buf, const char *s, bool slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '_' || *p == '.' || *p == '~' || (slash && *p == '/'))
			appendStringInfoChar(buf, (char) *p);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[*p >> 4]);
			appendStringInfoChar(buf, hex[*p & 0xf]);
		}
	}
}

/* ------------------------------------------------------------------------
 * Settings
 * ------------------------------------------------------------------------
 */

/* a setting, or when it is empty the first environment variable set */
static const char *
SettingOrEnv(const char *setting, const char *env1, const char *env2)
{
	const char *v;

	if (setting && setting[0] != '\0')
		return setting;
	v = getenv(env1);
	if ((v == NULL || v[0] == '\0') && env2)
		v = getenv(env2);
	return (v && v[0] != '\0') ? v : NULL;
}

/*
 * GetConfig
 *		Endpoint, region and credentials for a request, each from its
 *		setting or else the server's environment.
 */
static void
GetConfig(S3Config *c)
{
	const char *region = SettingOrEnv(ivm_s3_region, "AWS_REGION", "AWS_DEFAULT_REGION");
	const char *endpoint = SettingOrEnv(ivm_s3_endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
	size_t		len;

	c->region = pstrdup(region ? region : "us-east-1");
	for (const char *p = c->region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("object storage region \"%s\" is not a region name", c->region),
					 errhint("Set ivm.s3_region (or AWS_REGION in the server's environment) to a name such as us-east-1.")));
	if (endpoint)
		c->endpoint = pstrdup(endpoint);
	else
		c->endpoint = psprintf("https://s3.%s.amazonaws.com", c->region);
	len = strlen(c->endpoint);
	while (len > 0 && c->endpoint[len - 1] == '/')
		c->endpoint[--len] = '\0';
	if ((strncmp(c->endpoint, "http://", 7) != 0 && strncmp(c->endpoint, "https://", 8) != 0) ||
		strchr(c->endpoint, '@') != NULL || strchr(c->endpoint, '?') != NULL ||
		strchr(c->endpoint, '#') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the object storage endpoint is not an http:// or https:// URL without credentials"),
				 errhint("Set ivm.s3_endpoint (or AWS_ENDPOINT_URL in the server's environment) to a URL such as http://127.0.0.1:9000; "
						 "credentials go in ivm.s3_access_key_id and ivm.s3_secret_access_key.")));
	c->key_id = SettingOrEnv(ivm_s3_access_key_id, "AWS_ACCESS_KEY_ID", NULL);
	c->secret = SettingOrEnv(ivm_s3_secret_access_key, "AWS_SECRET_ACCESS_KEY", NULL);
	if (c->key_id == NULL || c->secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("no credentials for object storage"),
				 errdetail("Neither ivm.s3_access_key_id and ivm.s3_secret_access_key nor AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the server's environment give them."),
				 errhint("A superuser sets them in postgresql.conf, or in the environment the server starts with.")));
}

/* ------------------------------------------------------------------------
 * libcurl callbacks: no palloc, no ereport
 * ------------------------------------------------------------------------
 */

/* keep (a bounded part of) a response body */
static bool
KeepBody(S3Transfer *t, const char *data, size_t len)
{
	if (t->bodylen + len + 1 > S3_MAX_BODY)
	{
		t->truncated = true;
		return false;
	}
	if (t->bodylen + len + 1 > t->bodycap)
	{
		size_t		cap = Max(t->bodycap * 2, t->bodylen + len + 1);
		char	   *p;

		cap = Max(cap, 8192);
		p = realloc(t->body, cap);
		if (p == NULL)
			return false;
		t->body = p;
		t->bodycap = cap;
	}
	memcpy(t->body + t->bodylen, data, len);
	t->bodylen += len;
	t->body[t->bodylen] = '\0';
	return true;
}

/* the response body: into the download file when the answer is 2xx, else kept */
static size_t
WriteCallback(char *data, size_t size, size_t nmemb, void *arg)
{
	S3Transfer *t = arg;
	size_t		len = size * nmemb;
	long		status = 0;

	(void) curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
	if (t->outfd >= 0 && status >= 200 && status < 300)
	{
		size_t		done = 0;

		while (done < len)
		{
			ssize_t		n = write(t->outfd, data + done, len - done);

			if (n <= 0)
			{
				t->io_errno = n < 0 ? errno : ENOSPC;
				t->io_write = true;
				return 0;		/* libcurl stops: CURLE_WRITE_ERROR */
			}
			done += n;
		}
		return len;
	}
	return KeepBody(t, data, len) ? len : 0;
}

/* the request body, from the upload file */
static size_t
ReadCallback(char *buf, size_t size, size_t nitems, void *arg)
{
	S3Transfer *t = arg;
	ssize_t		n = read(t->infd, buf, size * nitems);

	if (n < 0)
	{
		t->io_errno = errno;
		t->io_write = false;
		return CURL_READFUNC_ABORT;
	}
	return (size_t) n;
}

/* a cancel or termination stops the transfer; it is served after libcurl returns */
static int
ProgressCallback(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
				 curl_off_t ulnow)
{
	S3Transfer *t = arg;

	if (QueryCancelPending || ProcDiePending)
	{
		t->interrupted = true;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------
 */

/* the SHA-256 of a file, in hex: the payload hash the signature covers */
static char *
FileSha256(const char *path, uint64 *size)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *buf = palloc(1024 * 1024);
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "ivm: could not start a SHA-256 hash");
	*size = 0;
	for (;;)
	{
		ssize_t		n = read(fd, buf, 1024 * 1024);

		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		if (n == 0)
			break;
		if (pg_cryptohash_update(ctx, (uint8 *) buf, n) < 0)
			elog(ERROR, "ivm: could not compute a SHA-256 hash");
		*size += n;
		CHECK_FOR_INTERRUPTS();
	}
	CloseTransientFile(fd);
	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "ivm: could not compute a SHA-256 hash");
	pg_cryptohash_free(ctx);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	pfree(buf);
	return hex;
}

/* make libcurl usable in this process, once */
static void
EnsureCurl(void)
{
	curl_version_info_data *info;

	if (curl_ready)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialise libcurl")));
	info = curl_version_info(CURLVERSION_NOW);
	if (info->version_num < 0x074b00)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("object storage needs libcurl 7.75 or later; the server has %s", info->version),
				 errhint("Upgrade libcurl on the database server.")));
	curl_ready = true;
}

/* whether a try's failure may pass when tried again */
static bool
Transient(const S3Result *r)
{
	if (r->code == CURLE_OK)
		return r->status >= 500 || r->status == 429;
	switch (r->code)
	{
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
		case CURLE_OUT_OF_MEMORY:
		case CURLE_WRITE_ERROR:
		case CURLE_READ_ERROR:
		case CURLE_FILESIZE_EXCEEDED:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_LOGIN_DENIED:
			return false;
		default:
			return true;
	}
}

/* wait ms, serving interrupts (a cancel ends the wait with an error) */
static void
Backoff(int ms)
{
	TimestampTz end = GetCurrentTimestamp() + (TimestampTz) ms * 1000;

	for (;;)
	{
		long		left = (long) ((end - GetCurrentTimestamp()) / 1000);

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * OneTry
 *		One HTTP request, with libcurl from start to end: nothing in between
 *		may ereport.  Files were opened by the caller.
 */
static void
OneTry(const S3Config *c, const char *url, const S3Request *req, const char *payload_hash,
	   uint64 upload_size, S3Transfer *t, S3Result *r)
{
	CURL	   *curl;
	struct curl_slist *headers;
	char	   *hash_header = psprintf("x-amz-content-sha256: %s", payload_hash);
	char	   *sigv4 = psprintf("aws:amz:%s:s3", c->region);

	/* from here to the end, nothing may palloc or ereport */
	r->code = CURLE_OUT_OF_MEMORY;
	r->status = 0;
	r->curlerr[0] = '\0';
	headers = curl_slist_append(NULL, hash_header);
	if (headers == NULL)
		return;
	curl = curl_easy_init();
	if (curl == NULL)
	{
		curl_slist_free_all(headers);
		return;
	}
	t->curl = curl;
	(void) curl_easy_setopt(curl, CURLOPT_URL, url);
	(void) curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	(void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);	/* the server owns SIGALRM */
	(void) curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4);
	(void) curl_easy_setopt(curl, CURLOPT_USERNAME, c->key_id);
	(void) curl_easy_setopt(curl, CURLOPT_PASSWORD, c->secret);
	(void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	(void) curl_easy_setopt(curl, CURLOPT_USERAGENT, "ivm");
	(void) curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, r->curlerr);
	(void) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long) ivm_s3_timeout);
	/* a transfer that moves nothing for ivm.s3_timeout seconds has failed */
	(void) curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	(void) curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long) ivm_s3_timeout);
	(void) curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	(void) curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
	(void) curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
	(void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteCallback);
	(void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
	if (req->upload)
	{
		(void) curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		(void) curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
		(void) curl_easy_setopt(curl, CURLOPT_READDATA, t);
		(void) curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) upload_size);
	}
	else if (strcmp(req->method, "GET") != 0)
		(void) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);

	r->code = curl_easy_perform(curl);
	(void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	t->curl = NULL;
}

/* the text of element tag in an S3 XML answer, entities decoded, or NULL */
static char *
XmlElement(const char *xml, const char *tag, const char **after)
{
	char	   *open = psprintf("<%s>", tag);
	char	   *close = psprintf("</%s>", tag);
	const char *s = xml ? strstr(xml, open) : NULL;
	const char *e;
	StringInfoData buf;

	if (s == NULL)
		return NULL;
	s += strlen(open);
	e = strstr(s, close);
	if (e == NULL)
		return NULL;
	if (after)
		*after = e + strlen(close);
	initStringInfo(&buf);
	while (s < e)
	{
		if (*s == '&')
		{
			const char *semi = memchr(s, ';', e - s);
			static const struct
			{
				const char *name;
				char		c;
			}			ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
			bool		done = false;

			for (int i = 0; semi && i < lengthof(ents); i++)
				if ((size_t) (semi - s + 1) == strlen(ents[i].name) &&
					strncmp(s, ents[i].name, semi - s + 1) == 0)
				{
					appendStringInfoChar(&buf, ents[i].c);
					s = semi + 1;
					done = true;
					break;
				}
			if (!done && semi && s[1] == '#')
			{
				long		code = s[2] == 'x' ? strtol(s + 3, NULL, 16) : strtol(s + 2, NULL, 10);

				if (code > 0 && code < 128)
				{
					appendStringInfoChar(&buf, (char) code);
					s = semi + 1;
					done = true;
				}
			}
			if (done)
				continue;
		}
		appendStringInfoChar(&buf, *s++);
	}
	return buf.data;
}

/*
 * ServiceSays
 *		The error code and message of an S3 error answer, as «Code ("message")»
 *		for a detail, or NULL; a message that quotes a credential is left
 *		out, and so is what is not printable.
 */
static char *
ServiceSays(const S3Config *c, const char *body)
{
	char	   *code = XmlElement(body, "Code", NULL);
	char	   *message = XmlElement(body, "Message", NULL);
	StringInfoData buf;

	if (code == NULL || strstr(code, c->key_id) != NULL || strstr(code, c->secret) != NULL)
		return NULL;
	initStringInfo(&buf);
	for (char *s = code; *s && buf.len < 100; s++)
		appendStringInfoChar(&buf, (*s >= 0x20 && *s < 0x7f) ? *s : '?');
	if (message && strstr(message, c->key_id) == NULL && strstr(message, c->secret) == NULL &&
		strlen(message) < 500)
	{
		appendStringInfoString(&buf, " (\"");
		for (char *s = message; *s; s++)
			appendStringInfoChar(&buf, (*s >= 0x20 && *s < 0x7f) ? *s : '?');
		appendStringInfoString(&buf, "\")");
	}
	return buf.data;
}

/*
 * Perform
 *		Run a request, trying again after a transient failure (see the top
 *		of the file).  Returns the HTTP status of the last try when one came
 *		(the caller judges it); a failure to reach the service at all is an
 *		error here.  *body (when not NULL) gets the response body.
 */
static long
Perform(const IvmS3Location *loc, const S3Request *req, char **body)
{
	S3Config	c;
	StringInfoData url;
	char	   *payload_hash = S3_EMPTY_SHA256;
	uint64		upload_size = 0;
	S3Result	r;
	const char *target = req->key ? psprintf("%s%s/%s", IVM_S3_SCHEME, loc->bucket, req->key) :
		req->display;

	EnsureCurl();
	GetConfig(&c);
	initStringInfo(&url);
	appendStringInfo(&url, "%s/", c.endpoint);
	AppendEncoded(&url, loc->bucket, false);
	if (req->key)
	{
		appendStringInfoChar(&url, '/');
		AppendEncoded(&url, req->key, true);
	}
	if (req->query)
		appendStringInfo(&url, "?%s", req->query);
	if (req->upload)
	{
		payload_hash = FileSha256(req->upload, &upload_size);
		if (upload_size > S3_MAX_PUT)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("could not upload \"%s\": %llu bytes is more than one object storage upload takes",
							target, (unsigned long long) upload_size),
					 errdetail("ivm uploads each file in one request, and S3 takes at most 5 GiB in one."),
					 errhint("Checkpoint into a local directory and copy it with a tool that uploads in parts.")));
	}

	memset(&r, 0, sizeof(r));
	for (int attempt = 1;; attempt++)
	{
		S3Transfer t;

		memset(&t, 0, sizeof(t));
		t.infd = -1;
		t.outfd = -1;
		if (req->upload)
		{
			t.infd = OpenTransientFile(req->upload, O_RDONLY | PG_BINARY);
			if (t.infd < 0)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not open file \"%s\": %m", req->upload)));
		}
		if (req->download)
		{
			t.outfd = OpenTransientFile(req->download, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
			if (t.outfd < 0)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not create file \"%s\": %m", req->download)));
		}

		OneTry(&c, url.data, req, payload_hash, upload_size, &t, &r);

		if (t.infd >= 0)
			CloseTransientFile(t.infd);
		if (t.outfd >= 0 && CloseTransientFile(t.outfd) != 0 && t.io_errno == 0)
		{
			t.io_errno = errno;
			t.io_write = true;
		}
		r.body = pstrdup(t.body ? t.body : "");
		free(t.body);
		r.attempts = attempt;

		if (t.interrupted)
			CHECK_FOR_INTERRUPTS();
		if (t.io_errno != 0)
		{
			errno = t.io_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not %s file \"%s\" while transferring \"%s\": %m",
							t.io_write ? "write" : "read",
							t.io_write ? req->download : req->upload, target)));
		}
		if (!Transient(&r) || attempt == S3_ATTEMPTS)
			break;
		ereport(LOG,
				(errmsg("object storage: %s of \"%s\" failed (%s), trying again (attempt %d of %d)",
						req->verb, target,
						r.code != CURLE_OK ? (r.curlerr[0] ? r.curlerr : curl_easy_strerror(r.code)) :
						psprintf("HTTP status %ld", r.status),
						attempt + 1, S3_ATTEMPTS)));
		Backoff(S3_FIRST_BACKOFF_MS << (attempt - 1));
	}

	if (r.code != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("could not %s \"%s\": %s", req->verb, target,
						r.curlerr[0] ? r.curlerr : curl_easy_strerror(r.code)),
				 errdetail("Object storage at %s did not answer, after %d attempts.", c.endpoint, r.attempts),
				 errhint("Check that the storage service is up and reachable from the database server "
						 "(ivm.s3_endpoint); a transfer that makes no progress for ivm.s3_timeout seconds fails.")));
	if (r.status >= 500 || r.status == 429)
	{
		char	   *says = ServiceSays(&c, r.body);

		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("could not %s \"%s\": object storage answered HTTP status %ld", req->verb,
						target, r.status),
				 says ? errdetail("All %d attempts failed; the last answer was %s.", r.attempts, says) :
				 errdetail("All %d attempts failed.", r.attempts),
				 errhint("The storage service at %s is failing or overloaded: try again later.", c.endpoint)));
	}
	if (r.status == 403 || r.status == 401)
	{
		char	   *says = ServiceSays(&c, r.body);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("could not %s \"%s\": object storage refused access (HTTP status %ld)",
						req->verb, target, r.status),
				 says ? errdetail("The service answered %s.", says) : 0,
				 errhint("Check the credentials (ivm.s3_access_key_id and ivm.s3_secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
						 "in the server's environment), ivm.s3_region, and that they may use bucket \"%s\".",
						 loc->bucket)));
	}
	if (r.status == 404)
	{
		char	   *code = XmlElement(r.body, "Code", NULL);

		if (code && strcmp(code, "NoSuchBucket") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("could not %s \"%s\": bucket \"%s\" does not exist (HTTP status 404)",
							req->verb, target, loc->bucket),
					 errhint("Check the bucket's name and ivm.s3_endpoint (now %s); create the bucket first.",
							 c.endpoint)));
	}
	if (body)
		*body = r.body;
	return r.status;
}

/* an answer the caller did not expect: the error */
static void
Unexpected(const IvmS3Location *loc, const char *verb, const char *key, long status, const char *body)
{
	S3Config	c;
	char	   *says;

	GetConfig(&c);
	says = ServiceSays(&c, body);
	ereport(ERROR,
			(errcode(status == 404 ? ERRCODE_UNDEFINED_FILE : ERRCODE_IO_ERROR),
			 errmsg("could not %s \"%s%s/%s\": object storage answered HTTP status %ld",
					verb, IVM_S3_SCHEME, loc->bucket, key, status),
			 says ? errdetail("The service answered %s.", says) : 0,
			 errhint("Check the bucket, the key and ivm.s3_endpoint.")));
}

/* ------------------------------------------------------------------------
 * The interface
 * ------------------------------------------------------------------------
 */

/*
 * IvmS3PutFile
 *		Upload the file at path as object key of loc's bucket.  The object
 *		appears whole or not at all (one PUT), replacing any of that key.
 */
void
IvmS3PutFile(const IvmS3Location *loc, const char *key, const char *path)
{
	S3Request	req = {"PUT", "upload", key, NULL, path, NULL, NULL};
	char	   *body;
	long		status = Perform(loc, &req, &body);

	if (status < 200 || status >= 300)
		Unexpected(loc, "upload", key, status, body);
}

/*
 * IvmS3GetFile
 *		Download object key of loc's bucket into the file at path.  A missing
 *		object is false when missing_ok, an error otherwise.
 */
bool
IvmS3GetFile(const IvmS3Location *loc, const char *key, const char *path, bool missing_ok)
{
	S3Request	req = {"GET", "download", key, NULL, NULL, path, NULL};
	char	   *body;
	long		status = Perform(loc, &req, &body);

	if (status == 404 && missing_ok)
		return false;
	if (status < 200 || status >= 300)
		Unexpected(loc, "download", key, status, body);
	return true;
}

/* the names and sizes a listing keeps, packed (see S3_MAX_KEYS) */
typedef struct S3Listing
{
	IvmS3Object *objects;		/* an array, no header per object */
	int			n;
	int			max;
	char	   *block;			/* names, packed into blocks that never move */
	size_t		block_used;
	size_t		name_bytes;
	uint64		seen;			/* every key of every page, kept or not */
} S3Listing;

/* keep object name (size bytes); names stay where they are first put */
static void
ListingAdd(S3Listing *l, const char *name, uint64 size)
{
	size_t		len = strlen(name) + 1;

	if (l->block == NULL || l->block_used + len > S3_NAME_BLOCK)
	{
		l->block = palloc(Max(S3_NAME_BLOCK, len));
		l->block_used = 0;
	}
	memcpy(l->block + l->block_used, name, len);
	if (l->n == l->max)
	{
		l->max = Max(l->max * 2, 1024);
		l->objects = l->objects == NULL ?
			palloc_extended(sizeof(IvmS3Object) * l->max, MCXT_ALLOC_HUGE) :
			repalloc_huge(l->objects, sizeof(IvmS3Object) * l->max);
	}
	l->objects[l->n].name = l->block + l->block_used;
	l->objects[l->n].size = size;
	l->n++;
	l->block_used += len;
	l->name_bytes += len;
}

/* the error of a listing past S3_MAX_KEYS objects or S3_MAX_NAME_BYTES */
static void
ListingTooLong(const IvmS3Location *loc, const char *prefix)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("could not list \"%s%s/%s\": more than %d objects under the prefix",
					IVM_S3_SCHEME, loc->bucket, prefix, S3_MAX_KEYS),
			 errdetail("ivm lists at most %d objects (%d MB of names) under a checkpoint prefix; "
					   "a checkpoint chain holds one manifest per checkpoint and a few dozen files "
					   "per view or source.",
					   S3_MAX_KEYS, S3_MAX_NAME_BYTES / (1024 * 1024)),
			 errhint("Use a prefix of its own for ivm's checkpoints (nothing else stored under it), "
					 "and start a new chain under a new prefix now and then.")));
}

/*
 * IvmS3List
 *		The objects directly under loc's prefix (not those under a further
 *		'/'), as IvmS3Object, in the order of their keys.  A missing bucket
 *		is an error; an empty prefix lists nothing.  Each page is read in a
 *		memory context of its own, reset after it (each entry of it in one
 *		reset after the entry); what is kept is bounded (S3_MAX_KEYS,
 *		S3_MAX_NAME_BYTES), and a cancel is served between pages.
 */
List *
IvmS3List(const IvmS3Location *loc)
{
	List	   *objects = NIL;
	char	   *prefix = loc->key[0] ? psprintf("%s/", loc->key) : pstrdup("");
	char	   *token = NULL;
	S3Listing	l;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext pagecxt = AllocSetContextCreate(CurrentMemoryContext, "ivm s3 listing page",
												  ALLOCSET_DEFAULT_SIZES);
	/* (not pagecxt's child: resetting a context deletes its children) */
	MemoryContext entrycxt = AllocSetContextCreate(CurrentMemoryContext, "ivm s3 listing entry",
												   ALLOCSET_SMALL_SIZES);

	memset(&l, 0, sizeof(l));
	for (;;)
	{
		StringInfoData q;
		S3Request	req = {"GET", "list", NULL, NULL, NULL, NULL, NULL};
		char	   *body;
		long		status;
		const char *at;
		char	   *contents;
		char	   *truncated;
		char	   *next;
		uint64		page_seen;

		/* the page, and all that reading it allocates, in pagecxt */
		MemoryContextSwitchTo(pagecxt);

		/* parameters in canonical order: sorted by name, values encoded */
		initStringInfo(&q);
		if (token)
		{
			appendStringInfoString(&q, "continuation-token=");
			AppendEncoded(&q, token, false);
			appendStringInfoChar(&q, '&');
		}
		appendStringInfoString(&q, "delimiter=%2F&list-type=2&prefix=");
		AppendEncoded(&q, prefix, false);
		req.query = q.data;
		req.display = psprintf("%s%s/%s", IVM_S3_SCHEME, loc->bucket, prefix);
		status = Perform(loc, &req, &body);
		if (status < 200 || status >= 300)
			Unexpected(loc, "list", prefix, status, body);

		/*
		 * Every entry counts, kept or not, and a page counts as one at least.
		 * Each entry is parsed in entrycxt, reset after it: a page of many
		 * small entries costs no more than its body.
		 */
		page_seen = l.seen;
		MemoryContextSwitchTo(entrycxt);
		at = body;
		while (XmlElement(at, "CommonPrefixes", &at) != NULL)
		{
			if (++l.seen > S3_MAX_KEYS)
				ListingTooLong(loc, prefix);
			MemoryContextReset(entrycxt);
		}
		at = body;
		while ((contents = XmlElement(at, "Contents", &at)) != NULL)
		{
			char	   *key = XmlElement(contents, "Key", NULL);
			char	   *size = XmlElement(contents, "Size", NULL);

			if (++l.seen > S3_MAX_KEYS)
				ListingTooLong(loc, prefix);
			if (key != NULL && strncmp(key, prefix, strlen(prefix)) == 0 &&
				strchr(key + strlen(prefix), '/') == NULL && key[strlen(prefix)] != '\0')
			{
				if (l.name_bytes + strlen(key + strlen(prefix)) + 1 > S3_MAX_NAME_BYTES)
					ListingTooLong(loc, prefix);
				MemoryContextSwitchTo(outer);
				ListingAdd(&l, key + strlen(prefix), size ? strtoull(size, NULL, 10) : 0);
				MemoryContextSwitchTo(entrycxt);
			}
			MemoryContextReset(entrycxt);
		}
		MemoryContextSwitchTo(pagecxt);
		if (l.seen == page_seen && ++l.seen > S3_MAX_KEYS)
			ListingTooLong(loc, prefix);
		truncated = XmlElement(body, "IsTruncated", NULL);
		next = XmlElement(body, "NextContinuationToken", NULL);
		if (truncated != NULL && strcmp(truncated, "true") == 0 && next == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_IO_ERROR),
					 errmsg("could not list \"%s\": object storage gave a partial listing without a continuation token",
							loc->url)));

		/* what the next page needs outlives this one; the page goes */
		MemoryContextSwitchTo(outer);
		if (token)
			pfree(token);
		token = (truncated != NULL && strcmp(truncated, "true") == 0) ? pstrdup(next) : NULL;
		MemoryContextReset(pagecxt);
		CHECK_FOR_INTERRUPTS();
		if (token == NULL)
			break;
	}
	MemoryContextDelete(entrycxt);
	MemoryContextDelete(pagecxt);
	for (int i = 0; i < l.n; i++)
		objects = lappend(objects, &l.objects[i]);
	return objects;
}

/*
 * IvmS3Delete
 *		Delete object key of loc's bucket (a missing one is no failure).
 *		On failure: an error at elevel ERROR; else a report at elevel and
 *		false.
 */
bool
IvmS3Delete(const IvmS3Location *loc, const char *key, int elevel)
{
	S3Request	req = {"DELETE", "delete", key, NULL, NULL, NULL, NULL};
	char	   *volatile body = NULL;
	volatile long status = 0;

	if (elevel >= ERROR)
	{
		char	   *b;

		status = Perform(loc, &req, &b);
		body = b;
	}
	else
	{
		MemoryContext cxt = CurrentMemoryContext;
		volatile bool ok = true;

		/* the storage's failures become a report; a cancel stays an error */
		PG_TRY();
		{
			char	   *b;

			status = Perform(loc, &req, &b);
			body = b;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			if (edata->sqlerrcode != ERRCODE_IO_ERROR &&
				edata->sqlerrcode != ERRCODE_UNDEFINED_FILE &&
				edata->sqlerrcode != ERRCODE_INSUFFICIENT_PRIVILEGE)
				PG_RE_THROW();
			FlushErrorState();
			ereport(elevel,
					(errcode(edata->sqlerrcode),
					 errmsg_internal("%s", edata->message),
					 edata->detail ? errdetail_internal("%s", edata->detail) : 0));
			ok = false;
		}
		PG_END_TRY();
		if (!ok)
			return false;
	}
	if ((status >= 200 && status < 300) || status == 404)
		return true;
	if (elevel >= ERROR)
		Unexpected(loc, "delete", key, status, body);
	ereport(elevel,
			(errcode(ERRCODE_IO_ERROR),
			 errmsg("could not delete \"%s%s/%s\": object storage answered HTTP status %ld",
					IVM_S3_SCHEME, loc->bucket, key, status)));
	return false;
}

/*-------------------------------------------------------------------------
 *
 * s3.h
 *		A small client of S3-compatible object storage (s3.c): put an object
 *		from a file, get one into a file, list the objects under a prefix,
 *		delete one.  Checkpoints (ckptfile.c, full.c) use it for s3://
 *		targets.
 *
 * Layer: work, below the checkpoint files; calls nothing of ivm but the
 * settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IVM_S3_H
#define IVM_S3_H

#include "postgres.h"

#include "nodes/pg_list.h"

#define IVM_S3_SCHEME			"s3://"

/* where a checkpoint goes in object storage */
typedef struct IvmS3Location
{
	char	   *bucket;
	char	   *key;			/* an object's key, or the prefix of a
								 * directory of objects: no leading or
								 * trailing '/', maybe empty */
	char	   *url;			/* s3://bucket/key, for messages */
} IvmS3Location;

/* an object a listing found */
typedef struct IvmS3Object
{
	char	   *name;			/* its key, less the listed prefix and '/' */
	uint64		size;
} IvmS3Object;

extern bool IvmS3IsUrl(const char *target);
extern IvmS3Location *IvmS3Parse(const char *url, bool object);
extern char *IvmS3Key(const IvmS3Location *loc, const char *name);
extern void IvmS3PutFile(const IvmS3Location *loc, const char *key, const char *path);
extern bool IvmS3GetFile(const IvmS3Location *loc, const char *key, const char *path,
						 bool missing_ok);
extern List *IvmS3List(const IvmS3Location *loc);
extern bool IvmS3Delete(const IvmS3Location *loc, const char *key, int elevel);

#endif							/* IVM_S3_H */

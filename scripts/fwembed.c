/*
 * fwembed IN OUT: compresses IN into OUT in gzip format (level 9), for
 * embedding the engine in the controller. gzip rather than raw zlib so the
 * controller can send the blob as it is and the node unpacks it with
 * `gzip -dc`. A build-time helper only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

static unsigned char *slurp(const char *path, unsigned long *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc(n ? n : 1)) == NULL ||
	    fread(buf, 1, n, f) != (size_t)n) {
		perror(path);
		exit(1);
	}
	fclose(f);
	*len = (unsigned long)n;
	return buf;
}

static int gzip(unsigned char *in, unsigned long in_len, unsigned char *out,
    unsigned long *out_len)
{
	z_stream z = { 0 };
	int r;

	/* windowBits 15 + 16: a gzip header and trailer. */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = in;
	z.avail_in = (uInt)in_len;
	z.next_out = out;
	z.avail_out = (uInt)*out_len;
	r = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}

int main(int argc, char **argv)
{
	unsigned long in_len, out_len;
	unsigned char *in, *out;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: fwembed IN OUT\n");
		return 2;
	}
	in = slurp(argv[1], &in_len);
	out_len = compressBound(in_len) + 64;
	if ((out = malloc(out_len)) == NULL || gzip(in, in_len, out,
	    &out_len) != 0) {
		fprintf(stderr, "fwembed: compression failed\n");
		return 1;
	}
	if ((f = fopen(argv[2], "wb")) == NULL ||
	    fwrite(out, 1, out_len, f) != out_len || fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	free(in);
	free(out);
	return 0;
}

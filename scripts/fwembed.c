/*
 * fwembed IN OUT: compresses IN with zlib (level 9) into OUT, for embedding
 * the engine in the controller. A build-time helper only.
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
	out_len = compressBound(in_len);
	if ((out = malloc(out_len)) == NULL ||
	    compress2(out, &out_len, in, in_len, 9) != Z_OK) {
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

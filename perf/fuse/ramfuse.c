/*
 * The yardstick for mountchain's FUSE transport: the smallest libfuse3 low-level server we can
 * write that shows one file, "disk.raw", whose bytes it holds in RAM (read from IMAGE at start).
 * Everything a server can do fastest through libfuse is done here: low-level API (no path layer),
 * direct_io, a multithreaded loop with one cloned /dev/fuse descriptor per thread, replies
 * straight from memory with fuse_reply_buf. mountchain serving the same bytes from a VMDK has to
 * do strictly more work per request, so matching this is matching what libfuse can do here.
 *
 * Build: cc -O2 -o ramfuse ramfuse.c $(pkg-config --cflags --libs fuse3)
 * Run:   ramfuse IMAGE MOUNTPOINT        (foreground; unmount with fusermount3 -u or umount)
 */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *image;
static size_t image_size;
static const char file_name[] = "disk.raw";

static void fill_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)image_size;
		st->st_blocks = (blkcnt_t)((image_size + 511) / 512);
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	if (parent != FUSE_ROOT_ID || strcmp(name, file_name) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = 2;
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	fill_stat(2, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != 2) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != 2) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino; (void)fi;
	if ((size_t)off >= image_size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > image_size - (size_t)off) size = image_size - (size_t)off;
	fuse_reply_buf(req, image + off, size);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	char buf[512];
	size_t used = 0;
	struct stat st;
	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	const char *names[] = { ".", "..", file_name };
	fuse_ino_t inos[] = { 1, 1, 2 };
	for (off_t i = off; i < 3; i++) {
		fill_stat(inos[i], &st);
		size_t n = fuse_add_direntry(req, buf + used, sizeof(buf) - used, names[i], &st, i + 1);
		if (used + n > size || used + n > sizeof(buf)) break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* 1 MiB requests, as mountchain asks for (libfuse insists this equals -o max_read). */
	conn->max_read = 1048576;
	conn->max_write = 1048576;
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.readdir = op_readdir,
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s IMAGE MOUNTPOINT\n", argv[0]);
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(argv[1]);
		return 1;
	}
	image_size = (size_t)st.st_size;
	image = malloc(image_size ? image_size : 1);
	for (size_t done = 0; done < image_size;) {
		ssize_t n = pread(fd, image + done, image_size - done, (off_t)done);
		if (n <= 0) {
			perror("read");
			return 1;
		}
		done += (size_t)n;
	}
	close(fd);

	char *fuse_argv[] = { argv[0], "-o", "ro,max_read=1048576,fsname=ramfuse", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[2]) != 0) {
		fprintf(stderr, "ramfuse: cannot mount %s\n", argv[2]);
		return 1;
	}
	struct fuse_loop_config *config = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(config, 1);
	fuse_loop_cfg_set_max_threads(config, 16);
	fuse_loop_cfg_set_idle_threads(config, 8);
	int r = fuse_session_loop_mt(se, config);
	fuse_loop_cfg_destroy(config);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	free(image);
	return r ? 1 : 0;
}

/* path.h — creating directories like `mkdir -p` (os.makedirs(exist_ok=True) in the official
 * scripts): every missing component is created (mode 0777, the umask applies), existing
 * directories are fine, anything else in the way is an error naming it. And the two file
 * tests (os.path.isfile / os.path.isdir). */
#ifndef LM_PATH_H
#define LM_PATH_H

/* Creates dir and its missing parents. 0, or LM_EIO ("cannot create directory X: why",
 * "X exists and is not a directory") / LM_EINVAL (path longer than PATH_MAX). */
int lm_path_mkdirs(const char *dir);
/* lm_path_mkdirs of the directory part of a file path ("a/b/c.png" -> "a/b"; nothing for
 * "c.png"). */
int lm_path_mkparents(const char *file);
/* 1 when p names a regular file (symbolic links followed), else 0. */
/* 1 if something exists at p (any kind of file), else 0. */
int lm_path_exists(const char *p);
int lm_path_is_file(const char *p);
/* 1 when p names a directory (symbolic links followed), else 0. */
int lm_path_is_dir(const char *p);

#endif

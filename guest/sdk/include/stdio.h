/* stdio.h: the guest SDK's stdio subset (stdin, stdout, stderr only). */
#ifndef _MVMM_STDIO_H
#define _MVMM_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF	 (-1)
#define BUFSIZ	 4096
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2

typedef struct mvmm_file FILE;

extern FILE *const stdin;
extern FILE *const stdout;
extern FILE *const stderr;

#define stdin  stdin
#define stdout stdout
#define stderr stderr

#define __mvmm_printf(f, a) __attribute__((format(printf, f, a)))

int printf(const char *fmt, ...) __mvmm_printf(1, 2);
int fprintf(FILE *f, const char *fmt, ...) __mvmm_printf(2, 3);
int sprintf(char *buf, const char *fmt, ...) __mvmm_printf(2, 3);
int snprintf(char *buf, size_t size, const char *fmt, ...) __mvmm_printf(3, 4);
int vprintf(const char *fmt, va_list ap) __mvmm_printf(1, 0);
int vfprintf(FILE *f, const char *fmt, va_list ap) __mvmm_printf(2, 0);
int vsprintf(char *buf, const char *fmt, va_list ap) __mvmm_printf(2, 0);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) __mvmm_printf(3, 0);

int putchar(int c);
int fputc(int c, FILE *f);
int putc(int c, FILE *f);
int puts(const char *s);
int fputs(const char *s, FILE *f);
size_t fwrite(const void *p, size_t size, size_t n, FILE *f);
int fflush(FILE *f);

int getchar(void);
int fgetc(FILE *f);
int getc(FILE *f);
int ungetc(int c, FILE *f);
char *fgets(char *s, int n, FILE *f);
size_t fread(void *p, size_t size, size_t n, FILE *f);
int feof(FILE *f);
int ferror(FILE *f);
void clearerr(FILE *f);

void perror(const char *s);

#endif /* _MVMM_STDIO_H */

// Package shim, when imported, lets the hutch binary run as the idle half of
// a detached monitor (see shim.c). It acts only when _HUTCH_SHIM is set.
package shim

/*
#cgo CFLAGS: -Wall -Werror -O2
extern void hutch_shim(void);
static void __attribute__((constructor)) hutch_shim_init(void) { hutch_shim(); }
*/
import "C"

// Package containerinit, when imported, lets the hutch binary run as a
// container's init (see init.c). It acts only when _HUTCH_INIT is set.
package containerinit

/*
#cgo CFLAGS: -Wall -Werror -O2
extern void hutch_container_init(void);
static void __attribute__((constructor)) hutch_container_init_ctor(void) { hutch_container_init(); }
*/
import "C"

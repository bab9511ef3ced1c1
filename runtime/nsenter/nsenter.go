// Package nsenter, when imported, lets the hutch binary start inside a
// running container's namespaces and cgroup (see nsenter.c). It acts only
// when _HUTCH_NSENTER_PID is set; otherwise it does nothing.
package nsenter

/*
#cgo CFLAGS: -Wall -Werror
extern void hutch_nsenter(void);
static void __attribute__((constructor)) hutch_nsenter_init(void) { hutch_nsenter(); }
*/
import "C"

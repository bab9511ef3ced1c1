package server

/*
#include <stdint.h>
#include <stdlib.h>
extern int hutch_check_answer(const char *text, const uint8_t *pkt, int len, int udp, uint8_t *out);
extern int hutch_check_fit(const uint8_t *reply, int rlen, const uint8_t *pkt, int len, int udp, uint8_t *out);
*/
import "C"

import (
	"sync"
	"unsafe"
)

// The resolver's pure parts, for this package's unit tests: the C keeps its
// members in a global list, which the check functions swap.
var checkMu sync.Mutex

// checkAnswer answers query for the first of members (each its "e NETWORK
// IP NAME..." lines) over UDP or TCP: the reply, or nil and forward, or
// neither (no reply).
func checkAnswer(members []string, query []byte, udp bool) (reply []byte, forward bool) {
	checkMu.Lock()
	defer checkMu.Unlock()
	text := ""
	for i, m := range members {
		if i > 0 {
			text += "--\n"
		}
		text += m
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	out := make([]byte, 65536)
	q := append([]byte{0}, query...) // never empty for &q[1]
	n := C.hutch_check_answer(ctext, (*C.uint8_t)(unsafe.Pointer(&q[1])), C.int(len(query)), cbool(udp),
		(*C.uint8_t)(unsafe.Pointer(&out[0])))
	if n < 0 {
		return nil, true
	}
	if n == 0 {
		return nil, false
	}
	return out[:n], false
}

// checkFit sizes reply, an upstream's answer to query, for the client.
func checkFit(reply, query []byte, udp bool) ([]byte, bool) {
	out := make([]byte, 65536+64)
	n := C.hutch_check_fit((*C.uint8_t)(unsafe.Pointer(&reply[0])), C.int(len(reply)),
		(*C.uint8_t)(unsafe.Pointer(&query[0])), C.int(len(query)), cbool(udp), (*C.uint8_t)(unsafe.Pointer(&out[0])))
	if n < 0 {
		return nil, false
	}
	return out[:n], true
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

package runtime

import (
	"fmt"
	"net/netip"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/trace"
)

// Trace follows a packet to t (network trace) as the kernel decides it,
// with this root's records joined in to name things and find where they
// disagree. from is where it starts: a running container, "host", or
// "outside" (arriving on a host interface, from source when given).
func (v *Networks) Trace(t trace.Target, from, source string) (*trace.Result, error) {
	nets, err := network.Open(v.root)
	if err != nil {
		return nil, err
	}
	recs, err := v.netRecords(nets)
	if err != nil {
		return nil, err
	}
	rec := recs.trace()
	f, err := v.traceFrom(rec, from, source)
	if err != nil {
		return nil, err
	}
	res, err := trace.Run(trace.Live{}, rec, f, t)
	if err != nil {
		return nil, fmt.Errorf("network trace: %w", err)
	}
	return res, nil
}

// traceFrom reads --from and --source.
func (v *Networks) traceFrom(recs trace.Records, from, source string) (trace.From, error) {
	var f trace.From
	if source != "" {
		a, err := netip.ParseAddr(source)
		if err != nil || !a.Is4() {
			return f, fmt.Errorf("network trace: --source %q is not an IPv4 address", source)
		}
		if from != "outside" {
			return f, fmt.Errorf("network trace: --source goes with --from outside")
		}
		f.Source = a
	}
	switch from {
	case "host":
		f.Host = true
		return f, nil
	case "outside":
		f.Outside = true
		return f, nil
	}
	c, err := v.ctrs.Get(from)
	if err != nil {
		return f, fmt.Errorf("network trace: --from %s: %w", from, err)
	}
	for i := range recs.Containers {
		if recs.Containers[i].Name == c.Name {
			tc := recs.Containers[i]
			if len(tc.Endpoints) == 0 {
				return f, fmt.Errorf("network trace: --from %s: the container is on no bridge network (network %s)", from, c.Network)
			}
			f.Container = &tc
			return f, nil
		}
	}
	return f, fmt.Errorf("network trace: --from %s: container %s is not running", from, c.Name)
}

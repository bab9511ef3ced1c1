// Package nft owns the one nftables table of a hutch instance (family ip,
// named by the caller: "hutch", or "hutch-<tag>" for another --root). It
// talks netlink through google/nftables and never runs nft(8).
//
// The table, as `nft list table ip hutch` prints it (NET = one network's
// bridge, which also tags that network's rules, as their comment):
//
//	table ip hutch {
//		map publish_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
//		map publish_any  { type inet_proto . inet_service : ipv4_addr . inet_service }
//		chain raw_prerouting { type filter hook prerouting priority raw; policy accept;
//			iifname != "lo" ip daddr 127.0.0.0/8 drop }
//		chain prerouting { type nat hook prerouting priority dstnat; policy accept;
//			fib daddr type local jump publish }
//		chain output { type nat hook output priority -100; policy accept;
//			fib daddr type local jump publish }
//		chain publish {
//			dnat ip to ip daddr . meta l4proto . th dport map @publish_addr
//			dnat ip to meta l4proto . th dport map @publish_any }
//		chain postrouting { type nat hook postrouting priority srcnat; policy accept;
//			ct status dnat ip saddr 127.0.0.0/8 masquerade
//			ip saddr SUBNET oifname != "NET" masquerade comment "NET"                 # unless internal
//			ip saddr SUBNET oifname "NET" ct status dnat masquerade comment "NET" }  # hairpin
//		chain forward { type filter hook forward priority filter; policy accept;
//			ct state established,related accept
//			jump internal
//			ct status dnat accept
//			jump isolate
//			jump outbound }
//		chain internal {
//			iifname "NET" oifname != "NET" drop comment "NET" }                       # internal only
//		chain isolate {
//			iifname "NET" oifname "NET" accept comment "NET"
//			oifname "NET" drop comment "NET" }
//		chain outbound {
//			iifname "NET" accept comment "NET" }                                      # unless internal
//	}
//
// Published ports are map elements, not rules: publishing or unpublishing a
// port is adding or deleting an element, the packet path costs one hash
// lookup per map whatever the number of ports, and there are no rule handles
// to track. A port published on one host address is a publish_addr element
// keyed on that address; one published on every address is a publish_any
// element. publish_addr is looked up first, so a specific address wins.
//
// The nat chains send to publish only what is addressed to the host itself
// ("fib daddr type local": any of its addresses, on any interface, and
// 127.0.0.1), never traffic the host merely routes: a container connecting to
// port 80 of some outside server must not be DNATed to another container.
// prerouting sees packets from other hosts and from containers; output sees
// the host's own.
//
// raw_prerouting drops, before conntrack and any DNAT, every packet for a
// loopback address that did not arrive on lo: only the host itself can
// send those, and from anywhere else they are a neighbour or a container
// aiming at ports published on 127.0.0.1, or at the host's own loopback
// services. The kernel's martian check does not stop them: it runs at the
// routing decision, after prerouting's DNAT has already rewritten a
// published port's 127.0.0.1 (so those get through whatever route_localnet
// says), and it lets the rest through wherever route_localnet=1, as on
// hutch's bridges (see below) and Docker's and Podman's. This is Docker 28's
// raw PREROUTING drop, for all of 127.0.0.0/8 rather than per published
// port. A port published on one host address is
// not reachable through the others: publish_addr is keyed on the
// destination address.
//
// A connection from the host to 127.0.0.1:PORT is DNATed in output and then
// routed out of the bridge with source 127.0.0.1. The kernel drops such a
// packet as martian unless route_localnet=1 on the bridge (the caller, which
// makes the bridge, sets that sysctl; this package does not), and the
// container could not answer it (127.0.0.1 is its own loopback), so
// postrouting masquerades it to the bridge's address. Only DNATed packets
// with a loopback source match, and only the host can send those.
//
// Per network, postrouting masquerades what leaves the subnet through any
// other interface (not for internal networks), and masquerades the hairpin
// case: a container reaching a published port of its own network (itself
// included) is DNATed back into the same bridge, and without the masquerade
// the reply would go straight back, bypassing the host's reverse NAT (to
// itself, it would come from its own address, which it drops). The hairpin
// is matched by source subnet, not by input interface, because with
// br_netfilter loaded the bridged packet reaches postrouting without one.
// With br_netfilter, a container reaching itself also needs hairpin mode on
// its bridge port (the caller's business): the DNATed frame goes back out of
// the port it came in by.
//
// forward lets through replies; internal drops everything an internal
// network sends anywhere but to itself (published ports included); then
// published ports are let through from anywhere; isolate lets a network talk
// to itself and drops everything else entering it (other networks, outside
// hosts); outbound lets the other networks out. An accept here does not
// override a drop in another table on the same hook: see ForwardDrops.
//
// Every change is one netlink batch, which the kernel applies atomically.
// Table works in the network namespace of the calling thread (hutch's own).
// Reads followed by writes (AddNetwork, AddPorts, RemovePorts) are not
// atomic together: callers serialise them with their own lock.
package nft

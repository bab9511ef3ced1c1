// Package runtime owns the container lifecycle: options and the OCI spec
// built from them, the on-disk container records, the monitor that
// supervises a container, the init that becomes its pid 1, and exec.
//
// Store keeps the containers: records, names, waiters, the sweep, the
// lifecycle. The verbs about other things have types of their own, each
// asking the containers only what it needs through a small interface:
// Networks (network create, ls, inspect, rm, prune: NetworkUsers), Volumes
// (volume create, rm, prune: VolumeUsers), Images (import, rm, run's pull:
// ImageUsers), Files (cp and export: fileContainers), and System (system
// prune, reset and df, over all of them).
//
// Process model:
//
//	hutch run ─(foreground: in-process; -d and start: re-exec "_monitor", setsid)─▶ monitor
//	    monitor: owns the container's stdio, log, network, exit status and cleanup; it
//	    creates and starts the container through the OCI core (oci.Runtime.CreateChild,
//	    its directory the bundle; bundle.go), in-process, so the init is its child:
//	        └─clone(NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET, into the v2 cgroup) re-exec "_init" ─▶ init
//	             C, before Go starts (runtime/containerinit); it receives its
//	             plan (runtime/oci/plan.go), built from config.json, and
//	             carries it out: brings up lo (or joins the netns of
//	             container:NAME), mounts the overlay root and the kernel
//	             filesystems and pivots into them, joins its v1 cgroups and
//	             unshares its cgroup namespace, while the monitor wires the
//	             network (create's Setup: veths, published ports, the DNS
//	             registration); says "created" and passes the exec fifo, which
//	             the monitor's Start has opened already; then installs the seccomp
//	             filter, drops to the container's user and capabilities and
//	             execs the command. A successful exec closes the sync socket
//	             (CLOEXEC): EOF is "started"; anything else is an error message.
//	hutch exec ─(into the v2 cgroup, setsid) re-exec a sealed copy of hutch as "_init" ─▶ the same C init
//	             with an exec plan (oci.ExecChild): joins the v1 cgroups and each
//	             namespace the container's pid 1 has of its own, made or joined
//	             (its OCI record lists them; setns), forks into its pid
//	             namespace (the parent passes signals on and exits with the
//	             child's status), then the child does what the init does from
//	             the pty on: seccomp, user and capabilities, chdir, exec.
//	    detached monitor ─exec─▶ C shim (runtime/shim) ─exec at the exit─▶ "_finish": records the
//	        exit, or under a restart policy waits out the back-off and is the monitor again
//	        (restart_linux.go); a foreground run hands a restart to a detached "_finish"
//	    monitor ─(a health check)─▶ "_health": probes by `hutch exec` until the container ends (health_linux.go)
//	    monitor ─(first container of a root on a user-defined network)─▶ "_dns-serve"
//	        one resolver per root (dns/resolver), exits with the last container it serves
//	        resolver ⇄ "_dns-watch" (C, holding copies of the resolver's sockets): each starts the other again when it dies
//
// The monitor starts init from a goroutine locked to its OS thread for the
// container's whole life, because Pdeathsig fires when that thread exits: if
// the monitor dies, the container dies with it, and the next hutch command that
// loads the record sees a dead monitor and frees what the container held.
//
// A foreground run makes its cgroup and the overlay's directories while
// Create writes the record, under the store's lock: every create finishes
// under that lock, so a directory without state.json seen under it is a
// create that died half-way, and List sweeps it and its cgroup.
//
// On disk, under the root (default /var/lib/hutch):
//
//	containers/.lock                 flock serialising record changes (names are unique)
//	containers/.names/<name>         the id holding a name
//	containers/.intents/<id>         pid and start time of a command leasing or wiring for id (reconcile.go)
//	containers/<id>/                 also a flock: held by cp/export while a stopped container's
//	                                 overlay is mounted (files.go), taken by a start's claim
//	containers/<id>/state.json       the Container record (atomic temp+rename; exchange for --rm)
//	containers/<id>/config.json      the OCI runtime spec the init executes (the dir is its bundle)
//	oci/<id>/                        the OCI core's state of a running container (state.json,
//	                                 exec fifo, config.json linked to the bundle's), as hutch-runc's
//	containers/<id>/ctr.log          Docker json-file log lines
//	containers/<id>/{upper,work,rootfs}   overlay layers and mount point
//	containers/<id>/{hostname,hosts,resolv.conf}  bind-mounted into the container
//	networks/<id>/network.json       a network (package network), leases/ its addresses;
//	                                 intent.json while it is made, .rm-<id>/ while it goes
//	volumes/.lock                    taken before containers/.lock, never inside it
//	volumes/<name>/{volume.json,_data}  a volume (package rootfs); _data is what is mounted
//	dns/resolver.sock                where monitors register containers with the resolver
//	dns/members/<id>                 a registration (its request lines), reloaded by a resolver started after one died
package runtime

package cgroups

import (
	"reflect"
	"strings"
	"testing"
)

// hybridHost is this development VM's /proc/self/mountinfo: v1 controllers
// each in its own hierarchy, name=systemd, and cgroup2 at
// /sys/fs/cgroup/unified. "/" is listed after mounts on it.
const hybridHost = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334460k,nr_inodes=3083615,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
28 27 0:25 / /mnt/sandboxing/model_tools_env/v1/python ro,nosuid,nodev,relatime - tmpfs model_tools_unavailable ro,size=4k,mode=755
29 26 0:26 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// unifiedHost is a Debian 12 host with systemd's default cgroup2 only.
const unifiedHost = `21 26 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
22 26 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
26 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
27 21 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:8 - securityfs securityfs rw
29 21 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
30 21 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw
`

// legacyHost is a CentOS 7 host: v1 only, co-mounted controllers, SELinux
// and systemd mount options among the super options.
const legacyHost = `18 62 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw,seclabel
62 0 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/centos-root rw,seclabel,attr2,inode64,noquota
24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,seclabel,mode=755
25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,seclabel,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,seclabel,cpuacct,cpu
29 24 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,seclabel,net_prio,net_cls
30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,seclabel,memory
31 24 0:27 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,seclabel,cpuset
32 24 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,seclabel,pids
33 24 0:29 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,seclabel,devices
34 24 0:30 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,seclabel,hugetlb
35 24 0:31 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,seclabel,freezer
36 24 0:32 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:21 - cgroup cgroup rw,seclabel,blkio
37 24 0:33 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:22 - cgroup cgroup rw,seclabel,perf_event
`

func h(dir string, controllers ...string) hierarchy {
	return hierarchy{dir: "/sys/fs/cgroup/" + dir, controllers: controllers}
}

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name, info string
		want       layout
		wantErr    string
	}{
		{
			name: "hybrid (this host)",
			info: hybridHost,
			want: layout{
				v1: []hierarchy{
					h("systemd", "name=systemd"), h("freezer", "freezer"), h("pids", "pids"),
					h("cpuset", "cpuset"), h("cpu", "cpu"), h("cpuacct", "cpuacct"),
					h("memory", "memory"), h("blkio", "blkio"), h("devices", "devices"),
				},
				v2: "/sys/fs/cgroup/unified",
			},
		},
		{
			name: "unified",
			info: unifiedHost,
			want: layout{v2: "/sys/fs/cgroup", limits2: true},
		},
		{
			name: "legacy",
			info: legacyHost,
			want: layout{v1: []hierarchy{
				h("systemd", "name=systemd"), h("freezer", "freezer"), h("pids", "pids"),
				h("net_cls,net_prio", "net_prio", "net_cls"), h("perf_event", "perf_event"),
				h("cpuset", "cpuset"), h("cpu,cpuacct", "cpuacct", "cpu"), h("memory", "memory"),
				h("blkio", "blkio"), h("devices", "devices"), h("hugetlb", "hugetlb"),
			}},
		},
		{
			name: "hybrid, Ubuntu 20.04",
			info: `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
41 35 0:36 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
`,
			want: layout{
				v1: []hierarchy{h("systemd", "name=systemd"), h("memory", "memory")},
				v2: "/sys/fs/cgroup/unified",
			},
		},
		{
			name: "cgroup2 elsewhere only",
			info: `1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:40 / /run/my\040cgroup rw - cgroup2 none rw
`,
			want: layout{v2: "/run/my cgroup", limits2: true},
		},
		{
			// A hierarchy bind-mounted elsewhere too, first; a cpuset
			// mounted the old way.
			name: "duplicate and noprefix",
			info: `1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:22 / /sys rw - sysfs sysfs rw
3 1 0:32 / /mnt/mem rw - cgroup cgroup rw,memory
4 2 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw
5 4 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
6 4 0:33 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,noprefix
`,
			want: layout{v1: []hierarchy{
				{dir: "/sys/fs/cgroup/cpuset", controllers: []string{"cpuset"}, noprefix: true},
				h("memory", "memory"),
			}},
		},
		{
			// cgroup2 at /sys/fs/cgroup covered by a tmpfs holding v1
			// hierarchies; a v1 one covered by a later mount.
			name: "hidden mounts",
			info: `1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:22 / /sys rw - sysfs sysfs rw
3 2 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
4 3 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw
5 4 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
6 4 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
7 6 0:50 / /sys/fs/cgroup/pids rw - tmpfs tmpfs rw
`,
			want: layout{v1: []hierarchy{h("memory", "memory")}},
		},
		{
			name:    "none",
			info:    unifiedHost[:strings.Index(unifiedHost, "29 21")],
			wantErr: "no cgroup filesystem mounted",
		},
		{name: "empty", wantErr: "no cgroup filesystem mounted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMountinfo(tt.info)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("layout =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestHostLayout(t *testing.T) {
	l, err := hostLayout()
	if err != nil {
		t.Fatal(err)
	}
	mode := "legacy"
	switch {
	case l.limits2:
		mode = "unified"
	case l.v2 != "":
		mode = "hybrid"
	}
	t.Logf("%s: %+v", mode, l)
	if l2, _ := hostLayout(); !reflect.DeepEqual(l, l2) {
		t.Error("second call differs")
	}
}

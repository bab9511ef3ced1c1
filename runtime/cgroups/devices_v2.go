package cgroups

import (
	"fmt"
	"io/fs"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices controller: the rules are a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the group, which the
// kernel runs on every mknod and open of a device node by a process in it,
// as runc and crun do. cilium/ebpf assembles, loads and attaches it (pure
// Go, and only loaded by a start that has device rules).

// The program's context, struct bpf_cgroup_dev_ctx: access_type (the
// device type in the low 16 bits, the access in the high ones), major,
// minor, each a u32.
const (
	devTypeBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devTypeChar  = 2 // BPF_DEVCG_DEV_CHAR
	accMknod     = 1 // BPF_DEVCG_ACC_MKNOD
	accRead      = 2
	accWrite     = 4
)

// deviceProgram assembles rules into a program that returns 1 (allow) or
// 0 (deny). The last rule that matches a request decides, as when the
// rules are written one after the other to v1's devices.allow and
// devices.deny; none matching allows, as v1's inherited allow-all. An
// allow rule matches a request whose access it covers, a deny rule one
// whose access it touches.
func deviceProgram(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	const (
		typ   = asm.R2
		acc   = asm.R3
		major = asm.R4
		minor = asm.R5
		tmp   = asm.R6
	)
	insns := asm.Instructions{
		asm.LoadMem(typ, asm.R1, 0, asm.Word),
		asm.Mov.Reg32(acc, typ),
		asm.And.Imm32(typ, 0xffff),
		asm.RSh.Imm32(acc, 16),
		asm.LoadMem(major, asm.R1, 4, asm.Word),
		asm.LoadMem(minor, asm.R1, 8, asm.Word),
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		next := fmt.Sprintf("rule%d", i-1)
		var ruleInsns asm.Instructions
		switch r.Type {
		case "", "a":
		case "c":
			ruleInsns = append(ruleInsns, asm.JNE.Imm(typ, devTypeChar, next))
		case "b":
			ruleInsns = append(ruleInsns, asm.JNE.Imm(typ, devTypeBlock, next))
		default:
			return nil, fmt.Errorf("device rule type %q: want a, b or c", r.Type)
		}
		if r.Major != nil && *r.Major >= 0 {
			ruleInsns = append(ruleInsns, asm.JNE.Imm(major, int32(*r.Major), next))
		}
		if r.Minor != nil && *r.Minor >= 0 {
			ruleInsns = append(ruleInsns, asm.JNE.Imm(minor, int32(*r.Minor), next))
		}
		bits, err := accessBits(r.Access)
		if err != nil {
			return nil, err
		}
		ruleInsns = append(ruleInsns, asm.Mov.Reg32(tmp, acc))
		if r.Allow {
			ruleInsns = append(ruleInsns, asm.And.Imm32(tmp, ^bits&7), asm.JNE.Imm(tmp, 0, next))
		} else {
			ruleInsns = append(ruleInsns, asm.And.Imm32(tmp, bits), asm.JEq.Imm(tmp, 0, next))
		}
		ruleInsns = append(ruleInsns, asm.Mov.Imm32(asm.R0, boolInt32(r.Allow)), asm.Return())
		ruleInsns[0] = ruleInsns[0].WithSymbol(fmt.Sprintf("rule%d", i))
		insns = append(insns, ruleInsns...)
	}
	return append(insns, asm.Mov.Imm32(asm.R0, 1).WithSymbol("rule-1"), asm.Return()), nil
}

// accessBits turns "rwm" (any subset; empty: all) into the program's bits.
func accessBits(access string) (int32, error) {
	if access == "" {
		return accMknod | accRead | accWrite, nil
	}
	var b int32
	for _, c := range access {
		switch c {
		case 'r':
			b |= accRead
		case 'w':
			b |= accWrite
		case 'm':
			b |= accMknod
		default:
			return 0, fmt.Errorf("device rule access %q: want some of r, w, m", access)
		}
	}
	return b, nil
}

func boolInt32(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// attachDeviceRules loads the program for rules and attaches it to the v2
// group dir. The group keeps it (a legacy attach, not a link): it stays
// after hutch exits and goes with the group. ALLOW_MULTI lets a host's own
// device program on an ancestor run too: every program must allow.
func attachDeviceRules(dir string, rules []specs.LinuxDeviceCgroup) error {
	insns, err := deviceProgram(rules)
	if err != nil {
		return fmt.Errorf("set device rules: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.CGroupDevice, License: "Apache-2.0", Instructions: insns,
	})
	if err != nil {
		return fmt.Errorf("set device rules: load program: %w", err)
	}
	defer prog.Close()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set device rules: %w", &fs.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(fd)
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("set device rules: attach to %s: %w", dir, err)
	}
	return nil
}

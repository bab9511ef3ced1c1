package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/hutchrt/hutch/runtime"
)

// statsInterval is how far apart the two readings of a CPU % are, and how
// often live stats refresh (Docker's collector reads once a second).
const statsInterval = time.Second

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "show containers' CPU, memory, network, block I/O and pids use (live; --no-stream: once)",
		ArgsUsage: "[CONTAINER...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "all containers, not only running ones"},
			&cli.BoolFlag{Name: "no-stream", Usage: "print one reading and exit"},
		},
		Action: func(ctx *cli.Context) error {
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			var cs []*runtime.Container
			if ctx.NArg() > 0 {
				for _, ref := range ctx.Args().Slice() {
					c, err := s.Get(ref)
					if err != nil {
						return err
					}
					cs = append(cs, c)
				}
			} else {
				all, err := s.List()
				if err != nil {
					return err
				}
				for _, c := range all {
					if ctx.Bool("all") || c.Running() {
						cs = append(cs, c)
					}
				}
			}
			live := !ctx.Bool("no-stream")
			clear := live && term.IsTerminal(int(os.Stdout.Fd()))
			prev := sampleAll(s, cs)
			for {
				time.Sleep(statsInterval)
				cur := sampleAll(s, cs)
				if clear {
					fmt.Print("\033[2J\033[H")
				}
				printStats(os.Stdout, cs, prev, cur, hostMemory())
				if !live {
					return nil
				}
				prev = cur
			}
		},
	}
}

func sampleAll(s *runtime.Store, cs []*runtime.Container) []runtime.Sample {
	out := make([]runtime.Sample, len(cs))
	for i, c := range cs {
		out[i], _ = s.Sample(c) // a container gone meanwhile reads as zero, as a stopped one
	}
	return out
}

func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

func printStats(w io.Writer, cs []*runtime.Container, prev, cur []runtime.Sample, hostMem uint64) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for i, c := range cs {
		p, n := prev[i], cur[i]
		limit := n.MemLimit
		if limit == 0 && c.Running() { // no limit: the host's memory is, as Docker shows
			limit = hostMem
		}
		memPct := 0.0
		if limit > 0 {
			memPct = float64(n.MemUsage) / float64(limit) * 100
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%s / %s\t%s / %s\t%d\n",
			c.ShortID(), c.Name, cpuPercent(p, n), binarySize(float64(n.MemUsage)), binarySize(float64(limit)), memPct,
			decimalSize(float64(n.NetRx)), decimalSize(float64(n.NetTx)),
			decimalSize(float64(n.BlockRd)), decimalSize(float64(n.BlockWr)), n.Pids)
	}
	tw.Flush()
}

// cpuPercent is the CPU time used between two readings over the wall time
// between them: 100% is one CPU busy, as Docker's.
func cpuPercent(prev, cur runtime.Sample) float64 {
	wall := cur.At.Sub(prev.At)
	if wall <= 0 || cur.CPU < prev.CPU || prev.CPU == 0 {
		return 0
	}
	return float64(cur.CPU-prev.CPU) / float64(wall.Nanoseconds()) * 100
}

// binarySize and decimalSize are go-units' BytesSize and
// HumanSizeWithPrecision(3), which docker stats prints.
func binarySize(n float64) string {
	return unitSize(n, 1024, "%.4g%s", []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"})
}

func decimalSize(n float64) string {
	return unitSize(n, 1000, "%.3g%s", []string{"B", "kB", "MB", "GB", "TB", "PB"})
}

func unitSize(n, base float64, format string, units []string) string {
	i := 0
	for n >= base && i < len(units)-1 {
		n /= base
		i++
	}
	return fmt.Sprintf(format, n, units[i])
}

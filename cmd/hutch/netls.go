package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/cmd/hutch/format"
	"github.com/hutchrt/hutch/network"
)

const networkTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

func networkLsCommand() *cli.Command {
	return &cli.Command{
		Name: "ls", Aliases: []string{"list"}, Usage: "list networks", OnUsageError: usageErr,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show ids"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "KEY=VALUE: name, id, driver, label, scope, type (builtin|custom)"},
			&cli.StringFlag{Name: "format", Usage: "a Go template, table TEMPLATE, or json"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "show full ids"},
		},
		Action: func(ctx *cli.Context) error {
			if err := noArgs(ctx); err != nil {
				return err
			}
			filter, err := parseNetworkFilter(ctx.StringSlice("filter"))
			if err != nil {
				return err
			}
			nets, err := openNetworks(ctx)
			if err != nil {
				return err
			}
			all, err := nets.Rows()
			if err != nil {
				return err
			}
			var rows []any
			for _, n := range all {
				if !filter.match(n) {
					continue
				}
				r := networkRow{ID: n.ShortID(), Name: n.Name, Driver: n.Driver, Scope: "local", IPv6: "false",
					Internal: fmt.Sprint(n.Internal), Labels: format.Labels(n.Labels), labels: n.Labels}
				if ctx.Bool("no-trunc") {
					r.ID = n.ID
				}
				if !n.Created.IsZero() {
					r.CreatedAt = n.Created.Local().Truncate(time.Second).Format("2006-01-02 15:04:05.999999999 -0700 MST")
				}
				rows = append(rows, r)
			}
			f := ctx.String("format")
			if ctx.Bool("quiet") {
				f = "{{.ID}}"
			}
			return format.List(os.Stdout, f, networkTable, networkHeader, rows)
		},
	}
}

// networkRow is what network ls's templates see.
type networkRow struct {
	ID, Name, Driver, Scope, IPv6, Internal, Labels, CreatedAt string

	labels map[string]string
	header bool
}

// Label is one label's value ({{.Label "key"}}).
func (r networkRow) Label(name string) string {
	if r.header {
		return "LABEL"
	}
	return r.labels[name]
}

var networkHeader = networkRow{ID: "NETWORK ID", Name: "NAME", Driver: "DRIVER", Scope: "SCOPE", IPv6: "IPV6",
	Internal: "INTERNAL", Labels: "LABELS", CreatedAt: "CREATED AT", header: true}

// networkFilter is network ls's --filter: values of a key OR'd, keys AND'd.
type networkFilter map[string][]string

func parseNetworkFilter(args []string) (networkFilter, error) {
	f := networkFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		switch k {
		case "name", "id", "driver", "label", "scope":
		case "type":
			if v != "builtin" && v != "custom" {
				return nil, fmt.Errorf("invalid filter: 'type'='%s'", v)
			}
		default:
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

func (f networkFilter) match(n *network.Network) bool {
	for k, vals := range f {
		if !slices.ContainsFunc(vals, func(v string) bool {
			switch k {
			case "name":
				return strings.Contains(n.Name, v)
			case "id":
				return strings.HasPrefix(n.ID, v)
			case "driver":
				return n.Driver == v
			case "scope":
				return v == "local"
			case "type": // the default network, host and none are Docker's builtin ones
				builtin := n.Name == network.DefaultName || n.Name == "host" || n.Name == "none"
				return builtin == (v == "builtin")
			case "label":
				key, want, hasValue := strings.Cut(v, "=")
				got, ok := n.Labels[key]
				return ok && (!hasValue || got == want)
			}
			return false
		}) {
			return false
		}
	}
	return true
}
